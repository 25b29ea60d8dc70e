"""The desk's counts per status, kept by the triggers of migration 0027, match a count of the
tickets after creates, moves, folds and deletes (COPY and TRUNCATE: tests/bench/test_fill.py)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from tests.services import Services
from tests.tickets.test_service import request
from ticketing.auth.principal import Principal
from ticketing.core.enums import TicketStatus
from ticketing.tickets.models import Ticket
from ticketing.tickets.service import TicketService


async def truth(service: Services, tenant: str) -> dict[TicketStatus, int]:
    rows = await service.session.execute(
        select(Ticket.status, func.count())
        .where(Ticket.tenant_id == tenant)
        .group_by(Ticket.status)
    )
    return {TicketStatus(status): count for status, count in rows}


async def kept_rows(service: Services, tenant: str) -> int:
    return (
        await service.session.execute(
            text("SELECT count(*) FROM ticket_status_counts WHERE tenant_id = :t"), {"t": tenant}
        )
    ).scalar_one()


async def test_counts_follow_every_change_and_stay_few_rows(service: Services, tenant: str) -> None:
    made = [await service.tickets.create_ticket(request(title=f"T{i}")) for i in range(40)]
    await service.tickets.create_ticket(request(customer_id=7, title="Globex"))
    acme = service.for_tenant("acme").tickets
    for ticket in made[:25]:
        await acme.change_status(ticket.ticket_number, "in_progress")
    for ticket in made[:10]:
        await acme.change_status(ticket.ticket_number, "resolved")
    for ticket in made[:4]:
        await acme.change_status(ticket.ticket_number, "closed")
    expected = {
        TicketStatus.OPEN: 15,
        TicketStatus.IN_PROGRESS: 15,
        TicketStatus.RESOLVED: 6,
        TicketStatus.CLOSED: 4,
    }
    assert await truth(service, "acme") == expected
    assert await acme.status_counts() == expected
    assert await service.tickets.status_counts("acme") == expected
    assert await service.for_tenant("globex").tickets.status_counts() == {TicketStatus.OPEN: 1}
    assert sum((await service.tickets.status_counts()).values()) == 41
    # 80 statements moved acme's counts; a writer that met 32 rows folded them.
    assert await kept_rows(service, "acme") < 32
    # An update that moves no status adds nothing.
    before = await kept_rows(service, "acme")
    await service.session.execute(text("UPDATE tickets SET updated_at = now()"))
    assert await kept_rows(service, "acme") == before
    # A customer's counts are its own tickets, counted.
    customer = TicketService(service.session, Principal.customer("acme", "42"))
    assert sum((await customer.status_counts()).values()) == 40


async def test_deletes_leave_counts_exact(service: Services, tenant: str) -> None:
    made = [await service.tickets.create_ticket(request(title=f"T{i}")) for i in range(3)]
    # As the owner would (the app role deletes no ticket): the companions first.
    for table in ("notifications", "ticket_events", "ticket_messages"):
        await service.session.execute(
            text(f"DELETE FROM {table} WHERE ticket_id = :id"), {"id": made[0].ticket_id}
        )
    await service.session.execute(
        text("DELETE FROM tickets WHERE id = :id"), {"id": made[0].ticket_id}
    )
    assert await service.for_tenant("acme").tickets.status_counts() == {TicketStatus.OPEN: 2}
