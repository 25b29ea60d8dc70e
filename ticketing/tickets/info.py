"""Read views of tickets: the TicketInfo a row or a fresh insert becomes, and page cursors."""

from __future__ import annotations

import base64

from ticketing.core.enums import TicketStatus
from ticketing.core.errors import InvalidInput
from ticketing.tickets.models import Ticket
from ticketing.tickets.numbering import format_ticket_number
from ticketing.tickets.repository import NewTicketRow
from ticketing.tickets.schemas import TicketInfo


def ticket_info(row: Ticket) -> TicketInfo:
    return TicketInfo(
        ticket_id=row.id,
        ticket_number=format_ticket_number(row.number),
        title=row.title,
        description=row.description,
        customer_id=row.customer_id,
        tenant_id=row.tenant_id,
        origin_type=row.origin_type,
        target_type=row.target_type,
        priority=row.priority,
        ticket_type=row.ticket_type,
        status=row.status,
        assigned_team=row.assigned_team,
        service_address=row.service_address,
        affected_services=list(row.affected_services),
        device_serial_numbers=list(row.device_serial_numbers),
        channel=row.channel,
        first_response_due=row.first_response_due,
        sla_due_date=row.sla_due_date,
        sla_breached=row.sla_breached,
        escalation_level=row.escalation_level,
        context=dict(row.context),
        created_at=row.created_at,
        assigned_to=row.assigned_to,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        metadata=dict(row.metadata_),
        requester_email=row.requester_email,
        outage=format_ticket_number(row.outage_number) if row.outage_number else None,
    )


def created_info(new: NewTicketRow, number: int) -> TicketInfo:
    """The view of a ticket just inserted, from what was inserted (no read back)."""
    return TicketInfo(
        ticket_id=new.id,
        ticket_number=format_ticket_number(number),
        title=new.title,
        description=new.description,
        customer_id=new.customer_id,
        tenant_id=new.tenant_id,
        origin_type=new.origin_type,
        target_type=new.target_type,
        priority=new.priority,
        ticket_type=new.ticket_type,
        status=TicketStatus.OPEN,
        assigned_team=new.assigned_team,
        service_address=new.service_address,
        affected_services=new.affected_services,
        device_serial_numbers=new.device_serial_numbers,
        channel=new.channel,
        first_response_due=new.first_response_due,
        sla_due_date=new.sla_due_date,
        sla_breached=False,
        escalation_level=1,
        context=new.context,
        created_at=new.created_at,
        metadata=new.metadata,
        requester_email=new.requester_email,
    )


def encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(str(number).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor", cursor, "is not a cursor returned by list_tickets") from None
