"""What commits with a mail's outcome: with a ticket change, its attachments and the addresses
its sender copied (they may answer the ticket by mail from then on); with a bounce, the
reported notices failed and, for good, their recipients flagged."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.mail import bounce_repository as bounces
from ticketing.mail import repository as repo
from ticketing.mail.errors import AlreadyDecided
from ticketing.mail.models import MailOutcome
from ticketing.mail.parsing import ParsedMail
from ticketing.mail.rules import Decision, IntakeFacts
from ticketing.tickets.attachments.schemas import NewFile
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.attachments.store import AttachmentStores
from ticketing.tickets.flows import Also
from ticketing.tickets.schemas import TicketInfo


def copied(mail: ParsedMail) -> list[str]:
    """The addresses the sender copied (the intake leaves in `cc` only those, no mailbox)."""
    return [a for a in mail.cc if a != mail.sender]


def outcome_recorder(
    mail_id: int,
    mail: ParsedMail,
    outcome: MailOutcome,
    expected: MailOutcome | None,
    *,
    on_message: bool,
    stores: AttachmentStores,
    max_bytes: int,
) -> Also:
    """The work that commits with the ticket change: outcome, attachments, copies."""

    async def record(session: AsyncSession, ticket: TicketInfo) -> None:
        now = datetime.now(UTC)
        message_id = None
        if on_message:
            message_id = await repo.last_message_id(session, ticket.ticket_id)
        if not await repo.record_outcome(
            session,
            mail_id,
            expected=expected,
            outcome=outcome,
            reason=None,
            now=now,
            ticket_id=ticket.ticket_id,
            message_id=message_id,
        ):
            raise AlreadyDecided("already decided")
        principal = Principal.integration(ticket.tenant_id, name="mail")
        if mail.attachments:
            await AttachmentService(session, principal, stores).attach(
                ticket.ticket_id,
                ticket.tenant_id,
                [NewFile(a.filename, a.content_type, a.data) for a in mail.attachments],
                message_id=message_id,
                max_bytes=max_bytes,
                now=now,
            )
        customer_address = (ticket.requester_email or "").lower()
        if outcome is MailOutcome.CREATED or mail.sender == customer_address:
            await repo.add_participants(
                session,
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.ticket_id,
                addresses=copied(mail),
                now=now,
            )

    return record


async def record_bounce(
    session: AsyncSession,
    mail_id: int,
    mail: ParsedMail,
    facts: IntakeFacts,
    decision: Decision,
    expected: MailOutcome | None,
    now: datetime,
) -> None:
    """A delivery report's outcome, in the caller's transaction: the notices it names failed,
    their recipients flagged when the failure is permanent."""
    reason = decision.reason or ""
    await repo.mark_notices_bounced(session, facts.reported_notices, reason, now)
    if mail.report is not None and mail.report.permanent:
        await bounces.flag_bounced(
            session, facts.reported_notices, mail.report.recipients, reason, mail_id, now
        )
    if not await repo.record_outcome(
        session,
        mail_id,
        expected=expected,
        outcome=decision.outcome,
        reason=decision.reason,
        now=now,
    ):
        raise AlreadyDecided("already decided")
