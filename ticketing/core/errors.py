"""Typed domain errors: each names the field and value that caused it, and carries the HTTP
status the API answers it with."""

from __future__ import annotations

from typing import Any, ClassVar


class TicketingError(Exception):
    """Base for every error the ticketing domain raises on bad input or state.

    Activities turn these into non-retryable Temporal failures whose type is the class name,
    so a caller in any language can branch on it.
    """

    # The HTTP status the API answers with; every status used here is documented on every
    # route (ticketing/web/problems.PROBLEMS). A subclass sets its own or inherits its parent's.
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    @property
    def error_type(self) -> str:
        """The one public name of the error: the problem `type` of the API, the type of the
        activity's ApplicationError and of the CLI's error line."""
        return type(self).__name__

    @property
    def public_message(self) -> str:
        """The message an API client is shown (the operator's CLI and the activity's failure
        keep `message`)."""
        return self.message

    @property
    def public_field(self) -> str | None:
        return self.field

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "value": _printable(self.value), "message": self.message}


class InvalidInput(TicketingError):
    """A field is missing, malformed or out of range."""

    status = 422

    def __init__(self, field: str, value: Any, reason: str) -> None:
        # "(got None)" would read as if None had been sent: say what was sent, or nothing.
        got = "" if value is None else f" (got {_printable(value)!r})"
        super().__init__(f"{field}: {reason}{got}", field=field, value=value)
        self.reason = reason


class CannotMerge(InvalidInput):
    """A merge the two tickets' state refuses (itself, another customer's, already merged
    elsewhere, a closed survivor); names `into`."""

    status = 409


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

    status = 404


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
    status = 409

    def __init__(self, tenant_id: str, customer_tenant_id: str) -> None:
        super().__init__(
            f"tenant_id: customer belongs to tenant {customer_tenant_id!r}, not {tenant_id!r}",
            field="tenant_id",
            value=tenant_id,
        )

    @property
    def public_message(self) -> str:
        # The message names the other tenant: an API client learns only that the id is taken.
        return "customer_id: already registered elsewhere"

    @property
    def public_field(self) -> str | None:
        return "customer_id"


class InvalidTransition(TicketingError):
    status = 409

    def __init__(self, current: str, requested: str) -> None:
        super().__init__(
            f"status: cannot move a ticket from {current!r} to {requested!r}",
            field="status",
            value=requested,
        )


class RouteNotAllowed(TicketingError):
    status = 409

    def __init__(self, origin: str, target: str) -> None:
        super().__init__(
            f"target_type: route {origin!r} -> {target!r} is not allowed",
            field="target_type",
            value=target,
        )


class EscalationLimitReached(TicketingError):
    status = 409

    def __init__(self, level: int) -> None:
        super().__init__(
            f"escalation_level: already at the top level {level}",
            field="escalation_level",
            value=level,
        )


class Forbidden(TicketingError):
    """The caller is known but its role may not do this (HTTP 403); never about another scope,
    which is reported as not found."""

    status = 403

    def __init__(self, action: str) -> None:
        super().__init__(f"principal: not allowed to {action}", field="principal", value=action)


class NoPrincipal(TicketingError):
    """A service was built without a Principal: there is no unscoped default."""

    status = 401

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
