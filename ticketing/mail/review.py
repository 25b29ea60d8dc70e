"""Received mail as an operator reviews it: outcome, reason, sender, ticket."""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, require_principal
from ticketing.core.errors import Forbidden, NotFound
from ticketing.db.rls import bind_scope
from ticketing.mail import bounce_repository as bounces
from ticketing.mail import repository as repo
from ticketing.mail.models import InboundMail, MailOutcome
from ticketing.tickets.numbering import format_ticket_number


class MailInfo(BaseModel):
    id: int
    tenant_id: str
    mailbox: str
    message_id: str | None
    sender: str | None
    subject: str | None
    size: int
    outcome: MailOutcome | None
    reason: str | None
    ticket_number: str | None
    received_at: datetime


class MailReview:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "MailReview")
        if principal.is_customer:
            raise Forbidden("review received mail")
        bind_scope(session, self.principal)

    async def list(self, *, outcome: MailOutcome | None = None, limit: int = 100) -> list[MailInfo]:
        """Newest first; another tenant's mail is not there."""
        rows = await repo.received_mail(self.session, outcome=outcome, limit=limit)
        return [_info(mail, number) for mail, number in rows]

    async def ticket_of(self, mail_id: int) -> uuid.UUID | None:
        return await repo.ticket_of_mail(self.session, mail_id)

    async def bounced(
        self, *, tenant_id: str | None = None, limit: int = 100
    ) -> builtins.list[Bounced]:
        """Addresses flagged by a permanent bounce, newest first (this scope's tenants)."""
        rows = await bounces.bounced_addresses(self.session, tenant_id, limit)
        return [Bounced(**vars(row)) for row in rows]

    async def unflag(self, tenant_id: str, address: str) -> None:
        """Write to the address again (the customer says it works); another scope's flag, or
        none, is reported as missing."""
        if not await bounces.unflag(self.session, tenant_id, address.strip()):
            raise NotFound(
                f"address: no bounced address {address.strip()!r} in this tenant",
                field="address",
                value=address,
            )


class Bounced(BaseModel):
    tenant_id: str
    address: str
    reason: str
    bounced_at: datetime
    reports: int


def _info(mail: InboundMail, number: int | None) -> MailInfo:
    return MailInfo(
        id=mail.id,
        tenant_id=mail.tenant_id,
        mailbox=mail.mailbox,
        message_id=mail.message_id,
        sender=mail.sender,
        subject=mail.subject,
        size=mail.size,
        outcome=mail.outcome,
        reason=mail.reason,
        ticket_number=format_ticket_number(number) if number else None,
        received_at=mail.received_at,
    )
