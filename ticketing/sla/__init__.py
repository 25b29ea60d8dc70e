"""The SLA engine's pure part (no I/O); iCalendar import lives in ticketing.sla.ical."""

from ticketing.sla.calendar import PRIORITIES, BusinessCalendar, YearlyHoliday, validate_timezone
from ticketing.sla.deadlines import (
    Pause,
    SlaClock,
    SlaDeadlines,
    SlaPhase,
    deadlines,
    due_at,
    next_threshold,
    paused_business_time,
    upcoming_threshold,
)
from ticketing.sla.policy import (
    DEFAULT_POLICY,
    DEFAULT_WARNING_PERCENTS,
    PAUSE_STATUSES,
    SlaPolicy,
    SlaRule,
    SlaTargets,
    demo_policy,
)
from ticketing.sla.policy_document import (
    SlaPolicyDocument,
    parse_policy_document,
    policy_json_schema,
)
from ticketing.sla.statistics import SlaStatistics, WindowOutcome, auto_close_at, sla_statistics
from ticketing.sla.thresholds import SlaWindow, Threshold, ThresholdKind

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_WARNING_PERCENTS",
    "PAUSE_STATUSES",
    "PRIORITIES",
    "BusinessCalendar",
    "Pause",
    "SlaClock",
    "SlaDeadlines",
    "SlaPhase",
    "SlaPolicy",
    "SlaPolicyDocument",
    "SlaRule",
    "SlaStatistics",
    "SlaTargets",
    "SlaWindow",
    "Threshold",
    "ThresholdKind",
    "WindowOutcome",
    "YearlyHoliday",
    "auto_close_at",
    "deadlines",
    "demo_policy",
    "due_at",
    "next_threshold",
    "parse_policy_document",
    "paused_business_time",
    "policy_json_schema",
    "sla_statistics",
    "upcoming_threshold",
    "validate_timezone",
]
