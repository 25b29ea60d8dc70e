"""The public SLA policy document: a pydantic model, its JSON Schema, SlaPolicy converters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ticketing.core.enums import Channel, TicketType
from ticketing.core.errors import InvalidInput
from ticketing.sla.calendar import BusinessCalendar
from ticketing.sla.calendar_document import CalendarDocument, _Strict
from ticketing.sla.policy import (
    DEFAULT_WARNING_PERCENTS,
    PAUSE_STATUSES,
    SlaPolicy,
    SlaRule,
    SlaTargets,
)

__all__ = [
    "SCHEMA_ID",
    "SlaPolicyDocument",
    "parse_policy_document",
    "policy_json_schema",
]

SCHEMA_ID = "https://ticketing.invalid/schemas/sla-policy.schema.json"

PriorityName = Literal["low", "normal", "high", "urgent"]
PauseStatus = Literal["pending", "resolved", "closed"]
Seconds = Annotated[int, Field(gt=0, strict=True)]
_DEFAULT_PAUSE_STATUSES: tuple[PauseStatus, ...] = ("pending", "resolved", "closed")
Percent = Annotated[int, Field(ge=1, le=100, strict=True)]


class TargetsDocument(_Strict):
    """Business-time targets of one priority, in seconds."""

    first_response_seconds: Seconds
    next_reply_seconds: Seconds | None = Field(
        default=None, description="Answer each customer message within; null: not tracked."
    )
    resolution_seconds: Seconds
    keep_in_loop_seconds: Seconds | None = Field(
        default=None,
        description="The customer hears from support (a public message) at least this often "
        "while the ticket is open, counted from the last one or the ticket's creation; null: "
        "not tracked.",
    )

    def to_targets(self) -> SlaTargets:
        return SlaTargets(
            first_response=timedelta(seconds=self.first_response_seconds),
            resolution=timedelta(seconds=self.resolution_seconds),
            next_reply=_optional_seconds(self.next_reply_seconds),
            keep_in_loop=_optional_seconds(self.keep_in_loop_seconds),
        )

    @classmethod
    def from_targets(cls, targets: SlaTargets) -> TargetsDocument:
        return cls(
            first_response_seconds=_whole_seconds(targets.first_response),
            next_reply_seconds=_seconds_or_none(targets.next_reply),
            resolution_seconds=_whole_seconds(targets.resolution),
            keep_in_loop_seconds=_seconds_or_none(targets.keep_in_loop),
        )


def _optional_seconds(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _whole_seconds(value: timedelta) -> int:
    return max(1, int(value.total_seconds()))


_NO_SLA = "null: no SLA for this priority (no due dates, warnings or breaches)."


class PriorityTargets(_Strict):
    """Every priority must be given; null means no SLA for it."""

    low: TargetsDocument | None = Field(description=_NO_SLA)
    normal: TargetsDocument | None = Field(description=_NO_SLA)
    high: TargetsDocument | None = Field(description=_NO_SLA)
    urgent: TargetsDocument | None = Field(description=_NO_SLA)

    def to_mapping(self) -> dict[str, SlaTargets | None]:
        return {name: _to_targets(getattr(self, name)) for name in PriorityTargets.model_fields}


def _to_targets(document: TargetsDocument | None) -> SlaTargets | None:
    return None if document is None else document.to_targets()


class TypeOverride(_Strict):
    """A ticket type's own targets (they win over the priority's) and/or calendar."""

    targets: TargetsDocument | None = None
    calendar: CalendarDocument | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> TypeOverride:
        if self.targets is None and self.calendar is None:
            raise ValueError("give targets, a calendar or both")
        return self


class RuleConditions(_Strict):
    """Every non-empty list must contain the ticket's value; empty lists match anything."""

    ticket_types: list[TicketType] = Field(default_factory=list)
    customer_plans: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, description="Customer plan or tier names, e.g. enterprise."
    )
    channels: list[Channel] = Field(default_factory=list)

    @field_validator("ticket_types", "customer_plans", "channels")
    @classmethod
    def _sorted_unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class RuleDocument(_Strict):
    """Targets for the tickets matching `when`; the first matching rule wins."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    when: RuleConditions = Field(default_factory=RuleConditions)
    targets: dict[PriorityName, TargetsDocument | None] = Field(
        description="Per priority; a priority left out falls through to the next rule, "
        "null: no SLA for it."
    )
    calendar: CalendarDocument | None = None

    @field_validator("targets")
    @classmethod
    def _some_targets(
        cls, value: dict[str, TargetsDocument | None]
    ) -> dict[str, TargetsDocument | None]:
        if not value:
            raise ValueError("needs targets for at least one priority")
        return value

    def to_rule(self) -> SlaRule:
        return SlaRule(
            name=self.name,
            targets={p: _to_targets(t) for p, t in self.targets.items()},
            ticket_types=frozenset(t.value for t in self.when.ticket_types),
            customer_plans=frozenset(self.when.customer_plans),
            channels=frozenset(c.value for c in self.when.channels),
            calendar=None if self.calendar is None else self.calendar.to_calendar(),
        )


class SlaPolicyDocument(_Strict):
    """A tenant's SLA policy as accepted by `ticketing sla set`, the admin API and activities."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="SLA policy",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    version: Literal[1] = 1
    calendar: CalendarDocument = Field(default_factory=CalendarDocument)
    targets: PriorityTargets
    type_overrides: dict[TicketType, TypeOverride] = Field(default_factory=dict)
    rules: list[RuleDocument] = Field(default_factory=list)
    warning_thresholds: list[Percent] = Field(
        default_factory=lambda: list(DEFAULT_WARNING_PERCENTS),
        description="Warn at these percentages of each target.",
    )
    pause_statuses: list[PauseStatus] = Field(
        default_factory=lambda: list(_DEFAULT_PAUSE_STATUSES),
        description="Statuses that stop the clocks; pending always does.",
    )
    auto_close_after_seconds: Seconds | None = Field(
        default=None, description="Close a resolved ticket after this quiet time; null: never."
    )
    pending_reminder_after_seconds: Seconds | None = Field(
        default=None,
        description="Remind the customer once after a ticket waited on them this long "
        "(real time); null: never.",
    )
    pending_close_after_seconds: Seconds | None = Field(
        default=None,
        description="Close a ticket still waiting on the customer after this long (real "
        "time, from when the wait began); null: never.",
    )

    @field_validator("pending_close_after_seconds")
    @classmethod
    def _close_after_reminder(cls, value: int | None, info: ValidationInfo) -> int | None:
        reminder = info.data.get("pending_reminder_after_seconds")
        if value is not None and reminder is not None and value <= reminder:
            raise ValueError("must be longer than pending_reminder_after_seconds")
        return value

    @field_validator("warning_thresholds")
    @classmethod
    def _unique_percents(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("percentages must be unique")
        return sorted(value)

    @field_validator("pause_statuses")
    @classmethod
    def _pending_pauses(cls, value: list[str]) -> list[str]:
        if "pending" not in value:
            raise ValueError("must include 'pending' (waiting on the customer)")
        return sorted(set(value), key=PAUSE_STATUSES.index)

    def to_policy(self) -> SlaPolicy:
        """The SlaPolicy this document describes."""
        overrides = self.type_overrides.items()
        return SlaPolicy(
            targets=self.targets.to_mapping(),
            type_overrides={t.value: o.targets.to_targets() for t, o in overrides if o.targets},
            calendar=self.calendar.to_calendar(),
            type_calendars={t.value: o.calendar.to_calendar() for t, o in overrides if o.calendar},
            rules=tuple(rule.to_rule() for rule in self.rules),
            warning_percents=tuple(self.warning_thresholds),
            pause_statuses=frozenset(self.pause_statuses),
            auto_close_after=_optional_seconds(self.auto_close_after_seconds),
            pending_reminder_after=_optional_seconds(self.pending_reminder_after_seconds),
            pending_close_after=_optional_seconds(self.pending_close_after_seconds),
        )

    @classmethod
    def from_policy(cls, policy: SlaPolicy) -> SlaPolicyDocument:
        """The document for `policy`; raises InvalidInput for a ticket type it cannot name."""
        return parse_policy_document(_policy_json(policy))


def _targets_json(value: SlaTargets | None) -> dict[str, object] | None:
    return None if value is None else TargetsDocument.from_targets(value).model_dump()


def _calendar_json(value: BusinessCalendar) -> dict[str, object]:
    return CalendarDocument.from_calendar(value).model_dump(mode="json")


def _override_json(policy: SlaPolicy, slug: str) -> dict[str, object]:
    override: dict[str, object] = {}
    if slug in policy.type_overrides:
        override["targets"] = _targets_json(policy.type_overrides[slug])
    if slug in policy.type_calendars:
        override["calendar"] = _calendar_json(policy.type_calendars[slug])
    return override


def _rule_json(rule: SlaRule) -> dict[str, object]:
    return {
        "name": rule.name,
        "when": {
            "ticket_types": sorted(rule.ticket_types),
            "customer_plans": sorted(rule.customer_plans),
            "channels": sorted(rule.channels),
        },
        "targets": {p: _targets_json(t) for p, t in rule.targets.items()},
        "calendar": None if rule.calendar is None else _calendar_json(rule.calendar),
    }


def _policy_json(policy: SlaPolicy) -> dict[str, object]:
    types = sorted(set(policy.type_overrides) | set(policy.type_calendars))
    auto_close = policy.auto_close_after
    return {
        "version": 1,
        "calendar": _calendar_json(policy.calendar),
        "targets": {p: _targets_json(t) for p, t in policy.targets.items()},
        "type_overrides": {slug: _override_json(policy, slug) for slug in types},
        "rules": [_rule_json(rule) for rule in policy.rules],
        "warning_thresholds": list(policy.warning_percents),
        "pause_statuses": sorted(policy.pause_statuses, key=PAUSE_STATUSES.index),
        "auto_close_after_seconds": None if auto_close is None else _whole_seconds(auto_close),
        "pending_reminder_after_seconds": _seconds_or_none(policy.pending_reminder_after),
        "pending_close_after_seconds": _seconds_or_none(policy.pending_close_after),
    }


def _seconds_or_none(value: timedelta | None) -> int | None:
    return None if value is None else _whole_seconds(value)


def _json_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            # pydantic marks a bad dict key by a trailing "[key]" after the key itself.
            continue
        else:
            path += f".{part}" if path else part
    return path or "policy"


def parse_policy_document(data: Mapping[str, object] | str | bytes) -> SlaPolicyDocument:
    """Validate a policy document (a mapping or JSON text); errors name the JSON path."""
    try:
        if isinstance(data, str | bytes):
            return SlaPolicyDocument.model_validate_json(data)
        return SlaPolicyDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        reason = first["msg"].removeprefix("Value error, ")
        raise InvalidInput(_json_path(first["loc"]), first.get("input"), reason) from None


def policy_json_schema() -> dict[str, object]:
    """The JSON Schema of SlaPolicyDocument, as published in sla-policy.schema.json."""
    schema = SlaPolicyDocument.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
