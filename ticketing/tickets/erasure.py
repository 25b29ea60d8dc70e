"""Erasure of a ticket's personal data on request: the ticket, its number, statuses and audit
trail stay; what identifies a person is redacted and the erasure itself is recorded.

What erase covers: the title (it often carries a name or an address), the description, every
message body, the requester's email, the service address, device serials, metadata, the
customer side's names as authors and actors, the notices' recipients and payloads (queued ones
are settled, never sent), and with `customer` the customer's email and name. The ticket's
number, type, priority, status, dates and SLA record stay.

Links: the first erasure stamps `erased_at`, and from then on the public tracking page opens
the ticket neither by link nor by number and email, so every link issued before it (in mail,
in chat cards, on a page left open) stops working; agents still see the redacted ticket."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.enums import EventKind
from ticketing.core.errors import Forbidden, TicketNotFound
from ticketing.db.rls import bind_scope
from ticketing.sla.service import utcnow
from ticketing.tickets import erasure_repository as erasure_repo
from ticketing.tickets import repository as repo
from ticketing.tickets.models import Ticket
from ticketing.tickets.numbering import format_ticket_number, ticket_ref

REDACTED = "[erased]"
# A queued notice of an erased ticket has no recipient left: it is settled, never sent.
ERASED_REASON = "erased: personal data removed on request"


class ErasureResult(BaseModel):
    ticket_number: str
    # Fields redacted by this call; empty when an earlier erasure already did it all.
    erased: list[str]
    erased_at: datetime | None


class TicketErasure:
    """Erase for the platform or the ticket's tenant admins; anyone else is refused."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TicketErasure")
        bind_scope(session, self.principal)

    async def erase(
        self, ticket: uuid.UUID | str, *, customer: bool = False, now: datetime | None = None
    ) -> ErasureResult:
        """Redact the ticket's personal data (and its customer's contact if asked); records
        an `erased` event naming the fields, once per call that redacted something."""
        if self.principal.role not in (Role.PLATFORM, Role.TENANT_ADMIN):
            raise Forbidden("erase tickets")
        row = await repo.find_ticket(
            self.session, self.principal, ticket_ref(ticket), for_update=True
        )
        if row is None:
            raise TicketNotFound(ticket if isinstance(ticket, str) else str(ticket))
        now = now or utcnow()
        if row.erased_at is None:
            row.erased_at = now
        # First: who the customer's side was, while the ticket and customer still say it.
        people = await self._customer_side(row)
        erased = _redact_ticket(row)
        if await self._redact_actors(row.id, people):
            erased.append("actors")
        if await self._redact_messages(row.id):
            erased.append("messages")
        if await self._redact_notices(row.id, now):
            erased.append("notifications")
        if customer and await self._redact_customer(row.tenant_id, row.customer_id):
            erased.append("customer")
        if erased:
            row.updated_at = now
            actor = self.principal.name or self.principal.role.value
            repo.add_event(
                self.session,
                row.id,
                EventKind.ERASED,
                now,
                actor=actor,
                data={"fields": erased, "by": actor, "role": self.principal.role.value},
            )
        await self.session.flush()
        return ErasureResult(
            ticket_number=format_ticket_number(row.number),
            erased=erased,
            erased_at=now if erased else None,
        )

    async def _customer_side(self, row: Ticket) -> set[str]:
        """The identities the customer's side appears under on this ticket: its contact (the
        requester, else the customer's email: the `created` event's actor and first
        message's author) and every author of a customer message (a mail reply's sender)."""
        authors = await erasure_repo.customer_authors(self.session, row.id)
        contact = await erasure_repo.customer_email(self.session, row.tenant_id, row.customer_id)
        people = {*authors, row.requester_email, contact}
        return {person for person in people if person is not None and person != REDACTED}

    async def _redact_actors(self, ticket_id: uuid.UUID, people: set[str]) -> bool:
        """Those identities as message authors and event actors become `[erased]`; the events
        themselves (what happened, when) stay."""
        if not people:
            return False
        return await erasure_repo.redact_actors(self.session, ticket_id, people, REDACTED)

    async def _redact_messages(self, ticket_id: uuid.UUID) -> bool:
        return await erasure_repo.redact_messages(self.session, ticket_id, REDACTED)

    async def _redact_notices(self, ticket_id: uuid.UUID, now: datetime) -> bool:
        return await erasure_repo.redact_notices(self.session, ticket_id, now, ERASED_REASON)

    async def _redact_customer(self, tenant_id: str, customer_id: str) -> bool:
        return await erasure_repo.redact_customer(self.session, tenant_id, customer_id)


def _redact_ticket(row: Ticket) -> list[str]:
    """Blank the ticket's own personal fields; returns the names of those that held data."""
    erased: list[str] = []
    if row.title != REDACTED:
        row.title = REDACTED
        erased.append("title")
    if row.description not in ("", REDACTED):
        row.description = REDACTED
        erased.append("description")
    for name in ("requester_email", "service_address"):
        if getattr(row, name) is not None:
            setattr(row, name, None)
            erased.append(name)
    if row.device_serial_numbers:
        row.device_serial_numbers = []
        erased.append("device_serial_numbers")
    if row.metadata_:
        row.metadata_ = {}
        erased.append("metadata")
    return erased
