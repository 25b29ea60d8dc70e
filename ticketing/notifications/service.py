"""Notices: queued in the command's transaction, listed per ticket, delivered without Temporal."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal, require_principal
from ticketing.core import outbox_keys
from ticketing.core.enums import DONE_STATUSES, Actor, Audience, NoticeKind, TicketStatus
from ticketing.db.rls import bind_scope
from ticketing.notifications import repository as repo
from ticketing.notifications.dispatch import Dispatcher, DispatchRules
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.repository import QueuedNotice
from ticketing.notifications.schemas import NoticeInfo
from ticketing.tickets.schemas import TicketInfo

log = structlog.get_logger(__name__)

# A reply's words ride in its row so the mail quotes what was said; a novel is cut.
_MAX_QUOTED = 20_000



def status_notice(before: str, after: str) -> NoticeKind | None:
    """What the customer hears when their ticket moves; None for moves they need not hear."""
    if after == TicketStatus.PENDING:
        return NoticeKind.WAITING_ON_CUSTOMER
    if after == TicketStatus.RESOLVED:
        return NoticeKind.TICKET_RESOLVED
    done = {s.value for s in DONE_STATUSES}
    if before in done and after not in done:
        return NoticeKind.TICKET_REOPENED
    return None


def reply_notice(author_actor: str, is_internal: bool) -> NoticeKind | None:
    """Internal notes are never mailed; a customer's reply goes to the desk, any other public
    reply to the customer."""
    if is_internal:
        return None
    return (
        NoticeKind.CUSTOMER_REPLIED
        if author_actor == Actor.CUSTOMER
        else (NoticeKind.SUPPORT_REPLIED)
    )


class NotificationService:
    """Queues a command's notices inside its transaction and lists a ticket's notices."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "NotificationService")
        bind_scope(session, self.principal)

    async def queue_for_message(self, ticket: TicketInfo) -> int | None:
        """Queue the notice of the message the command just added (once per message)."""
        row = await repo.last_message(self.session, ticket.ticket_id)
        if row is None:
            return None
        message_id, author_actor, is_internal, body = row
        kind = reply_notice(str(author_actor), bool(is_internal))
        if kind is None:
            return None
        return await self._queue(ticket, kind, f"m{message_id}", {"body": body[:_MAX_QUOTED]})

    async def queue_for_status_change(self, ticket: TicketInfo) -> int | None:
        """Queue the customer's notice of the status change the command just made (once)."""
        row = await repo.last_status_change(self.session, ticket.ticket_id)
        if row is None:
            return None
        event_id, data = row
        kind = status_notice(str(data.get("from")), str(data.get("to")))
        if kind is None:
            return None
        return await self._queue(ticket, kind, f"e{event_id}", {})

    async def queue_merged(self, ticket: TicketInfo, into: str) -> int | None:
        """Tell the customer once that their ticket continues as `into` (a merge)."""
        key = outbox_keys.ticket_merged(ticket.ticket_id)
        return await self._queue(ticket, NoticeKind.TICKET_MERGED, "", {"into": into}, key=key)

    async def queue_pending(
        self, ticket: TicketInfo, kind: NoticeKind, pending_since: datetime
    ) -> int | None:
        """The customer's reminder or close notice of one wait on them (once per wait)."""
        key = outbox_keys.pending_notice(kind, ticket.ticket_id, pending_since)
        return await self._queue(ticket, kind, "", {}, key=key)

    async def _queue(
        self,
        ticket: TicketInfo,
        kind: NoticeKind,
        event: str,
        payload: dict[str, object],
        *,
        key: str | None = None,
    ) -> int | None:
        contacts = await repo.ticket_contacts(self.session, ticket.ticket_id)
        recipient = contacts.customer if kind.audience is Audience.CUSTOMER else contacts.desk
        return await repo.queue_notice(
            self.session,
            QueuedNotice(
                dedupe_key=key or outbox_keys.ticket_notice(kind, ticket.ticket_id, event),
                ticket_id=ticket.ticket_id,
                tenant_id=ticket.tenant_id,
                kind=kind,
                recipient=recipient,
                payload=payload,
            ),
        )

    async def for_ticket(self, ticket: TicketInfo) -> list[NoticeInfo]:
        """The ticket's notices with their status and failure reason; a customer sees only the
        ones addressed to customers. `ticket` comes from a scoped read."""
        notices = await repo.notices_of_ticket(self.session, ticket.ticket_id)
        if self.principal.is_customer:
            return [n for n in notices if n.kind.audience is Audience.CUSTOMER]
        return notices


class DirectDelivery:
    """The notices port for a process without Temporal (the CLI): sends the ticket's due rows
    right after the commit, each on its own; a failure never fails the committed command."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifier: Notifier,
        rules: DispatchRules | None = None,
    ) -> None:
        self.dispatcher = Dispatcher(sessions, Principal.reconciler(), notifier, rules)

    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        try:
            await self.dispatcher.send_due(ticket_id=ticket_id, limit=20)
        except Exception as error:  # noqa: BLE001 - the row stays queued for the dispatcher
            log.warning("notice_delivery_failed", ticket_id=str(ticket_id), error=str(error))


class QueueOnly:
    """The notices port when delivery is someone else's job: rows wait for the dispatcher."""

    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        return None
