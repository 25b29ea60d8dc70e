"""The SLA engine's pure part: calendars, policies and deadlines, with no I/O."""

from ticketing.sla.calendar import PRIORITIES, BusinessCalendar, validate_timezone
from ticketing.sla.deadlines import (
    Pause,
    SlaClock,
    SlaDeadlines,
    SlaPhase,
    deadlines,
    due_at,
    next_threshold,
    paused_business_time,
)
from ticketing.sla.policy import DEFAULT_POLICY, SlaPolicy, SlaTargets, demo_policy

__all__ = [
    "DEFAULT_POLICY",
    "PRIORITIES",
    "BusinessCalendar",
    "Pause",
    "SlaClock",
    "SlaDeadlines",
    "SlaPhase",
    "SlaPolicy",
    "SlaTargets",
    "deadlines",
    "demo_policy",
    "due_at",
    "next_threshold",
    "paused_business_time",
    "validate_timezone",
]
