"""SLA policies: targets per priority and ticket type, the calendar they run on, warnings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ticketing.sla.calendar import (
    _ONE_SECOND,
    _ZERO,
    PRIORITIES,
    BusinessCalendar,
    _calendar_from_dict,
    _reject_unknown_keys,
)

__all__ = ["DEFAULT_POLICY", "SlaPolicy", "SlaTargets", "demo_policy"]


@dataclass(frozen=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        for name in ("first_response", "resolution"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= _ZERO:
                raise ValueError(f"{name} must be a positive timedelta")

    def to_dict(self) -> dict[str, object]:
        return {
            "first_response": self.first_response // _ONE_SECOND,
            "resolution": self.resolution // _ONE_SECOND,
        }


def _seconds_from_json(raw: object, path: str) -> timedelta:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
        raise ValueError(f"{path}: expected a positive integer number of seconds")
    return timedelta(seconds=raw)


def _targets_from_json(raw: object, fallback: SlaTargets | None, path: str) -> SlaTargets:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object")
    _reject_unknown_keys(raw, {"first_response", "resolution"}, path)
    values: dict[str, timedelta] = {}
    for name in ("first_response", "resolution"):
        if name in raw:
            values[name] = _seconds_from_json(raw[name], f"{path}.{name}")
        elif fallback is not None:
            values[name] = getattr(fallback, name)
        else:
            raise ValueError(f"{path}.{name}: missing")
    return SlaTargets(**values)


def _hash_mapping(mapping: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(mapping.items()))


@dataclass(frozen=True)
class SlaPolicy:
    targets: Mapping[str, SlaTargets]
    type_overrides: Mapping[str, SlaTargets] = field(default_factory=dict)
    calendar: BusinessCalendar = BusinessCalendar()
    # Some ticket types (outage reports) run 24x7 whatever the tenant's office hours are.
    type_calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    warning_ratio: float = 0.75

    def __post_init__(self) -> None:
        missing = [p for p in PRIORITIES if p not in self.targets]
        if missing:
            raise ValueError(f"targets: missing priority {missing[0]!r}")
        unknown = [p for p in self.targets if p not in PRIORITIES]
        if unknown:
            raise ValueError(f"targets: unknown priority {unknown[0]!r}")
        if not 0 < self.warning_ratio <= 1:
            raise ValueError("warning_ratio must be in (0, 1]")
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
                self.warning_ratio,
            )
        )

    def targets_for(self, priority: str, ticket_type: str) -> SlaTargets:
        override = self.type_overrides.get(ticket_type)
        if override is not None:
            return override
        try:
            return self.targets[priority]
        except KeyError:
            raise ValueError(f"unknown priority {priority!r}") from None

    def calendar_for(self, ticket_type: str) -> BusinessCalendar:
        return self.type_calendars.get(ticket_type, self.calendar)

    def to_dict(self) -> dict[str, object]:
        return {
            "targets": {p: self.targets[p].to_dict() for p in PRIORITIES},
            "type_overrides": {k: v.to_dict() for k, v in sorted(self.type_overrides.items())},
            "calendar": self.calendar.to_dict(),
            "type_calendars": {k: v.to_dict() for k, v in sorted(self.type_calendars.items())},
            "warning_ratio": self.warning_ratio,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> SlaPolicy:
        if data is None:
            return DEFAULT_POLICY
        if not isinstance(data, Mapping):
            raise ValueError("policy: expected an object")
        _reject_unknown_keys(
            data,
            {"targets", "type_overrides", "calendar", "type_calendars", "warning_ratio"},
            "policy",
        )
        default = DEFAULT_POLICY
        targets = dict(default.targets)
        raw_targets = data.get("targets", {})
        if not isinstance(raw_targets, Mapping):
            raise ValueError("targets: expected an object")
        for priority, raw in raw_targets.items():
            if priority not in PRIORITIES:
                raise ValueError(f"targets: unknown priority {priority!r}")
            targets[priority] = _targets_from_json(
                raw, default.targets[priority], f"targets.{priority}"
            )

        overrides = dict(default.type_overrides)
        if "type_overrides" in data:
            raw_overrides = data["type_overrides"]
            if not isinstance(raw_overrides, Mapping):
                raise ValueError("type_overrides: expected an object")
            overrides = {
                str(slug): _targets_from_json(raw, None, f"type_overrides.{slug}")
                for slug, raw in raw_overrides.items()
            }

        calendar = default.calendar
        if "calendar" in data:
            calendar = _calendar_from_json(data["calendar"], "calendar")

        type_calendars = dict(default.type_calendars)
        if "type_calendars" in data:
            raw_calendars = data["type_calendars"]
            if not isinstance(raw_calendars, Mapping):
                raise ValueError("type_calendars: expected an object")
            type_calendars = {
                str(slug): _calendar_from_json(raw, f"type_calendars.{slug}")
                for slug, raw in raw_calendars.items()
            }

        ratio = data.get("warning_ratio", default.warning_ratio)
        if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 < ratio <= 1:
            raise ValueError("warning_ratio: expected a number in (0, 1]")

        return cls(
            targets=targets,
            type_overrides=overrides,
            calendar=calendar,
            type_calendars=type_calendars,
            warning_ratio=float(ratio),
        )


def _calendar_from_json(raw: object, path: str) -> BusinessCalendar:
    if raw is not None and not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object or null")
    return _calendar_from_dict(raw, path)


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
