"""SLA policies: targets per priority and ticket type, the calendar they run on, warnings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ticketing.sla.calendar import ONE_SECOND, PRIORITIES, ZERO, BusinessCalendar

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_WARNING_PERCENTS",
    "PAUSE_STATUSES",
    "SlaPolicy",
    "SlaRule",
    "SlaTargets",
    "demo_policy",
]


@dataclass(frozen=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta
    # None: no next-reply window (the behaviour before next-reply targets existed).
    next_reply: timedelta | None = None
    # The customer hears from support at least this often while the ticket is open (Request
    # Tracker's keep-in-loop): from the last public support message, or creation. None: not.
    keep_in_loop: timedelta | None = None

    def __post_init__(self) -> None:
        for name in ("first_response", "resolution"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= ZERO:
                raise ValueError(f"{name} must be a positive timedelta")
        for name in ("next_reply", "keep_in_loop"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, timedelta) or value <= ZERO):
                raise ValueError(f"{name} must be a positive timedelta or None")

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "first_response": self.first_response // ONE_SECOND,
            "resolution": self.resolution // ONE_SECOND,
        }
        if self.next_reply is not None:
            data["next_reply"] = self.next_reply // ONE_SECOND
        if self.keep_in_loop is not None:
            data["keep_in_loop"] = self.keep_in_loop // ONE_SECOND
        return data


def _hash_mapping(mapping: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(mapping.items()))


PAUSE_STATUSES = ("pending", "resolved", "closed")
DEFAULT_WARNING_PERCENTS = (75,)


def _validate_percents(percents: tuple[int, ...]) -> tuple[int, ...]:
    for value in percents:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
            raise ValueError(f"warning_percents: expected integers in 1..100, got {value!r}")
    if len(set(percents)) != len(percents):
        raise ValueError("warning_percents: duplicates")
    return tuple(sorted(percents))


@dataclass(frozen=True)
class SlaRule:
    """Targets for the tickets a rule matches; an empty condition matches anything."""

    name: str
    # None for a priority: the rule gives tickets of that priority no SLA at all.
    targets: Mapping[str, SlaTargets | None]
    ticket_types: frozenset[str] = frozenset()
    customer_plans: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    calendar: BusinessCalendar | None = None

    def __post_init__(self) -> None:
        unknown = [p for p in self.targets if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"rule {self.name!r}: unknown priority {unknown[0]!r}")
        object.__setattr__(self, "targets", dict(self.targets))
        for name in ("ticket_types", "customer_plans", "channels"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                _hash_mapping(self.targets),
                self.ticket_types,
                self.customer_plans,
                self.channels,
                self.calendar,
            )
        )

    def matches(
        self, priority: str, ticket_type: str, customer_plan: str | None, channel: str | None
    ) -> bool:
        """All given conditions hold and the rule has targets for `priority`."""
        return (
            priority in self.targets
            and (not self.ticket_types or ticket_type in self.ticket_types)
            and (not self.customer_plans or customer_plan in self.customer_plans)
            and (not self.channels or channel in self.channels)
        )


@dataclass(frozen=True)
class SlaPolicy:
    # None for a priority: no SLA for it (no due dates, warnings or breaches) unless a rule or
    # the ticket type's override gives the ticket targets.
    targets: Mapping[str, SlaTargets | None]
    type_overrides: Mapping[str, SlaTargets] = field(default_factory=dict)
    calendar: BusinessCalendar = BusinessCalendar()
    # Some ticket types (outage reports) run 24x7 whatever the tenant's office hours are.
    type_calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    # Ordered: the first matching rule wins over type overrides and priority targets.
    rules: tuple[SlaRule, ...] = ()
    warning_percents: tuple[int, ...] = DEFAULT_WARNING_PERCENTS
    pause_statuses: frozenset[str] = frozenset(PAUSE_STATUSES)
    # Real (not business) time a resolved ticket stays quiet before it closes; None never.
    auto_close_after: timedelta | None = None
    # Real time a pending ticket waits before its customer is reminded, and before it closes.
    pending_reminder_after: timedelta | None = None
    pending_close_after: timedelta | None = None

    def __post_init__(self) -> None:
        missing = [p for p in PRIORITIES if p not in self.targets]
        if missing:
            raise ValueError(f"targets: missing priority {missing[0]!r}")
        unknown = [p for p in self.targets if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"targets: unknown priority {unknown[0]!r}")
        object.__setattr__(self, "warning_percents", _validate_percents(self.warning_percents))
        statuses = frozenset(self.pause_statuses)
        if "pending" not in statuses or not statuses <= set(PAUSE_STATUSES):
            raise ValueError(f"pause_statuses: must include 'pending', within {PAUSE_STATUSES}")
        for name in ("auto_close_after", "pending_reminder_after", "pending_close_after"):
            value = getattr(self, name)
            if value is not None and value <= ZERO:
                raise ValueError(f"{name} must be positive or None")
        object.__setattr__(self, "pause_statuses", statuses)
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "targets", dict(self.targets))
        object.__setattr__(self, "type_overrides", dict(self.type_overrides))
        object.__setattr__(self, "type_calendars", dict(self.type_calendars))

    def __hash__(self) -> int:
        return hash(
            (
                _hash_mapping(self.targets),
                _hash_mapping(self.type_overrides),
                self.calendar,
                _hash_mapping(self.type_calendars),
                self.rules,
                self.warning_percents,
                self.pause_statuses,
                self.auto_close_after,
                self.pending_reminder_after,
                self.pending_close_after,
            )
        )

    def matching_rule(
        self,
        priority: str,
        ticket_type: str,
        customer_plan: str | None = None,
        channel: str | None = None,
    ) -> SlaRule | None:
        """The first rule that matches the ticket, or None."""
        for rule in self.rules:
            if rule.matches(priority, ticket_type, customer_plan, channel):
                return rule
        return None

    def targets_for(
        self,
        priority: str,
        ticket_type: str,
        customer_plan: str | None = None,
        channel: str | None = None,
    ) -> SlaTargets | None:
        """First matching rule's targets, else the ticket type's override, else the priority's;
        None when the one that applies is null (no SLA)."""
        rule = self.matching_rule(priority, ticket_type, customer_plan, channel)
        if rule is not None:
            return rule.targets[priority]
        override = self.type_overrides.get(ticket_type)
        if override is not None:
            return override
        try:
            return self.targets[priority]
        except KeyError:
            raise ValueError(f"unknown priority {priority!r}") from None

    def calendar_for(
        self,
        ticket_type: str,
        priority: str | None = None,
        customer_plan: str | None = None,
        channel: str | None = None,
    ) -> BusinessCalendar:
        """First matching rule's calendar if it has one, else the type's, else the policy's."""
        if priority is not None:
            rule = self.matching_rule(priority, ticket_type, customer_plan, channel)
            if rule is not None and rule.calendar is not None:
                return rule.calendar
        return self.type_calendars.get(ticket_type, self.calendar)


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


DEFAULT_POLICY = SlaPolicy(
    targets={
        "urgent": SlaTargets(_hours(1), _hours(4)),
        "high": SlaTargets(_hours(4), _hours(24)),
        "normal": SlaTargets(_hours(8), _hours(72)),
        "low": SlaTargets(_hours(24), _hours(120)),
    },
    type_overrides={"outage_report": SlaTargets(_hours(1), _hours(4))},
    type_calendars={"outage_report": BusinessCalendar.always()},
)


def demo_policy(scale_seconds: int = 1) -> SlaPolicy:
    """A policy in seconds for demos and timer tests, 24x7.

    urgent 10s/30s, high 20s/60s, normal 30s/90s, low 60s/180s (first response / resolution),
    each multiplied by `scale_seconds`.
    """
    if not isinstance(scale_seconds, int) or isinstance(scale_seconds, bool) or scale_seconds < 1:
        raise ValueError("scale_seconds must be a positive integer")

    def seconds(first_response: int, resolution: int) -> SlaTargets:
        return SlaTargets(
            timedelta(seconds=first_response * scale_seconds),
            timedelta(seconds=resolution * scale_seconds),
        )

    urgent = seconds(10, 30)
    return SlaPolicy(
        targets={
            "urgent": urgent,
            "high": seconds(20, 60),
            "normal": seconds(30, 90),
            "low": seconds(60, 180),
        },
        # Mirrors DEFAULT_POLICY so demos exercise the same type-wins-over-priority path.
        type_overrides={"outage_report": urgent},
        type_calendars={"outage_report": BusinessCalendar.always()},
    )
