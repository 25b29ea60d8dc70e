"""One ticket's detail: the ticket, its timeline, its notices and its SLA figures."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.notifications.schemas import NoticeInfo
from ticketing.notifications.service import NotificationService
from ticketing.sla.schemas import SlaStatisticsInfo
from ticketing.sla.service import SlaService
from ticketing.tickets.attachments.schemas import AttachmentInfo
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.schemas import TicketEventInfo, TicketInfo, TicketMessageInfo
from ticketing.tickets.service import TicketService


class TicketDetail(BaseModel):
    ticket: TicketInfo
    messages: list[TicketMessageInfo]
    events: list[TicketEventInfo]
    # Each notice's delivery status, attempts and failure reason.
    notifications: list[NoticeInfo] = Field(default_factory=list)
    # Business-time figures and each SLA window met or missed (None for a customer).
    sla: SlaStatisticsInfo | None = None
    # Every file of the ticket (mail and web), also listed on the message it came with.
    attachments: list[AttachmentInfo] = Field(default_factory=list)


async def ticket_detail(
    session: AsyncSession, principal: Principal, ticket: uuid.UUID | str
) -> TicketDetail:
    """The ticket as `principal` may see it (a customer: public messages only); another
    scope's ticket is missing, as everywhere."""
    service = TicketService(session, principal)
    info = await service.get_ticket(ticket)
    messages, events = await service.timeline(info.ticket_id)
    notices = await NotificationService(session, principal).for_ticket(info)
    # Customers read their due dates from the ticket itself; the SLA figures (and the
    # watcher's view behind them) are the support side's.
    sla = (
        None
        if principal.is_customer
        else await SlaService(session, principal).statistics(info.ticket_id)
    )
    files = await AttachmentService(session, principal).of_ticket(info.ticket_id)
    by_message: dict[int, list[AttachmentInfo]] = {}
    for file in files:
        if file.message_id is not None:
            by_message.setdefault(file.message_id, []).append(file.info)
    messages = [
        m.model_copy(update={"attachments": by_message.get(m.id, [])}) if m.id in by_message else m
        for m in messages
    ]
    return TicketDetail(
        ticket=info,
        messages=messages,
        events=events,
        notifications=notices,
        sla=sla,
        attachments=[f.info for f in files],
    )
