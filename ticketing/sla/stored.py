"""A tenant's SLA policy as stored (`tenants.sla_policy`): the public JSON document, or the
format stored before the document existed. Above both the policy and its document, so neither
imports the other back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from ticketing.sla.calendar import (
    PRIORITIES,
    BusinessCalendar,
    calendar_from_dict,
    reject_unknown_keys,
)
from ticketing.sla.policy import DEFAULT_POLICY, DEFAULT_WARNING_PERCENTS, SlaPolicy, SlaTargets
from ticketing.sla.policy_document import SlaPolicyDocument, parse_policy_document


def policy_to_dict(policy: SlaPolicy) -> dict[str, object]:
    """The policy as its public JSON document (`SlaPolicyDocument`)."""
    return SlaPolicyDocument.from_policy(policy).model_dump(mode="json")


def policy_from_dict(data: Mapping[str, object] | None) -> SlaPolicy:
    """Load a stored policy: the JSON document, or the format stored before it existed."""
    if data is None:
        return DEFAULT_POLICY
    if isinstance(data, Mapping) and "version" in data:
        return parse_policy_document(data).to_policy()
    return _policy_from_legacy_dict(data)


def _policy_from_legacy_dict(data: object) -> SlaPolicy:
    if not isinstance(data, Mapping):
        raise ValueError("policy: expected an object")
    reject_unknown_keys(
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

    return SlaPolicy(
        targets=targets,
        type_overrides=overrides,
        calendar=calendar,
        type_calendars=type_calendars,
        warning_percents=_legacy_warning_percents(data.get("warning_ratio")),
    )


def _legacy_warning_percents(ratio: object) -> tuple[int, ...]:
    if ratio is None:
        return DEFAULT_WARNING_PERCENTS
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 < ratio <= 1:
        raise ValueError("warning_ratio: expected a number in (0, 1]")
    # A ratio finer than a percent rounds to the nearest one; below 1% it is 1%.
    return (max(1, round(ratio * 100)),)


def _calendar_from_json(raw: object, path: str) -> BusinessCalendar:
    if raw is not None and not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object or null")
    return calendar_from_dict(raw, path)


def _seconds_from_json(raw: object, path: str) -> timedelta:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
        raise ValueError(f"{path}: expected a positive integer number of seconds")
    return timedelta(seconds=raw)


def _targets_from_json(raw: object, fallback: SlaTargets | None, path: str) -> SlaTargets:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected an object")
    reject_unknown_keys(raw, {"first_response", "resolution", "next_reply"}, path)
    values: dict[str, timedelta] = {}
    for name in ("first_response", "resolution"):
        if name in raw:
            values[name] = _seconds_from_json(raw[name], f"{path}.{name}")
        elif fallback is not None:
            values[name] = getattr(fallback, name)
        else:
            raise ValueError(f"{path}.{name}: missing")
    next_reply = fallback.next_reply if fallback is not None else None
    if "next_reply" in raw:
        next_reply = _seconds_from_json(raw["next_reply"], f"{path}.next_reply")
    return SlaTargets(**values, next_reply=next_reply)
