"""Typed domain errors: each names the field and value that caused it."""

from __future__ import annotations

from typing import Any


class TicketingError(Exception):
    """Base for every error the ticketing domain raises on bad input or state.

    Activities turn these into non-retryable Temporal failures whose type is the class name,
    so a caller in any language can branch on it.
    """

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "value": _printable(self.value), "message": self.message}


class InvalidInput(TicketingError):
    """A field is missing, malformed or out of range."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        # "(got None)" would read as if None had been sent: say what was sent, or nothing.
        got = "" if value is None else f" (got {_printable(value)!r})"
        super().__init__(f"{field}: {reason}{got}", field=field, value=value)
        self.reason = reason


class InvalidCustomerId(InvalidInput):
    """customer_id is neither an integer, a numeric string nor a UUID."""


class MissingServiceAddress(InvalidInput):
    """An installation request arrived without service_address."""


class IdempotencyKeyReused(InvalidInput):
    """An `Idempotency-Key` came back with another request than the one it first created."""

    def __init__(self) -> None:
        TicketingError.__init__(
            self,
            "Idempotency-Key: already used with a different request; a retry must send the same "
            "body, a new request a new key",
            field="Idempotency-Key",
        )
        self.reason = "already used with a different request"


class UnknownAssignee(InvalidInput):
    """`assigned_to` or `assigned_team` names no agent or team of the ticket's tenant."""

    def __init__(self, field: str, value: str) -> None:
        kind = "agent" if field == "assigned_to" else "team"
        TicketingError.__init__(
            self,
            f"{field}: no {kind} {_printable(value)!r} in this tenant",
            field=field,
            value=value,
        )
        self.reason = f"no such {kind} in this tenant"


class NotFound(TicketingError):
    """Base for lookups that found nothing (or nothing this tenant may see)."""


class CustomerNotFound(NotFound):
    def __init__(self, customer_id: Any) -> None:
        super().__init__(
            f"customer_id: no customer {_printable(customer_id)!r}",
            field="customer_id",
            value=customer_id,
        )


class TenantNotFound(NotFound):
    def __init__(self, tenant_id: Any) -> None:
        super().__init__(
            f"tenant_id: no tenant {_printable(tenant_id)!r}", field="tenant_id", value=tenant_id
        )


class PartnerNotFound(NotFound):
    def __init__(self, partner_id: Any) -> None:
        super().__init__(
            f"partner_id: no partner {_printable(partner_id)!r}",
            field="partner_id",
            value=partner_id,
        )


class TicketNotFound(NotFound):
    def __init__(self, ticket: Any) -> None:
        super().__init__(f"ticket: no ticket {_printable(ticket)!r}", field="ticket", value=ticket)


class TenantMismatch(TicketingError):
    def __init__(self, tenant_id: str, customer_tenant_id: str) -> None:
        super().__init__(
            f"tenant_id: customer belongs to tenant {customer_tenant_id!r}, not {tenant_id!r}",
            field="tenant_id",
            value=tenant_id,
        )


class InvalidTransition(TicketingError):
    def __init__(self, current: str, requested: str) -> None:
        super().__init__(
            f"status: cannot move a ticket from {current!r} to {requested!r}",
            field="status",
            value=requested,
        )


class RouteNotAllowed(TicketingError):
    def __init__(self, origin: str, target: str) -> None:
        super().__init__(
            f"target_type: route {origin!r} -> {target!r} is not allowed",
            field="target_type",
            value=target,
        )


class EscalationLimitReached(TicketingError):
    def __init__(self, level: int) -> None:
        super().__init__(
            f"escalation_level: already at the top level {level}",
            field="escalation_level",
            value=level,
        )


class Forbidden(TicketingError):
    """The caller is known but its role may not do this (HTTP 403); never about another scope,
    which is reported as not found."""

    def __init__(self, action: str) -> None:
        super().__init__(f"principal: not allowed to {action}", field="principal", value=action)


class NoPrincipal(TicketingError):
    """A service was built without a Principal: there is no unscoped default."""

    def __init__(self, service: str) -> None:
        super().__init__(
            f"principal: {service} needs a Principal (there is no unscoped default)",
            field="principal",
            value=None,
        )


def non_retryable_error_types() -> list[str]:
    """Every domain error class name: bad input or state never gets better by retrying."""
    found: list[str] = []
    pending: list[type[TicketingError]] = [TicketingError]
    while pending:
        cls = pending.pop()
        found.append(cls.__name__)
        pending.extend(cls.__subclasses__())
    return sorted(set(found))


def _printable(value: Any, limit: int = 80) -> Any:
    """Keep error messages short and single-line whatever the caller sent."""
    if isinstance(value, str):
        text = value.encode("unicode_escape").decode("ascii")
        return text if len(text) <= limit else f"{text[:limit]}… ({len(value)} chars)"
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _printable(repr(value), limit)
