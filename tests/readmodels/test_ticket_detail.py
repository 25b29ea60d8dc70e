"""One ticket detail for every principal that may see the ticket, customers included."""

from __future__ import annotations

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.readmodels.ticket_detail import ticket_detail


async def test_a_customer_reads_its_ticket_without_internal_notes_or_sla_figures(
    service: Services, tenant: str
) -> None:
    created = await service.tickets.create_ticket({"title": "No internet", "customer_id": 42})
    await service.tickets.add_message(
        created.ticket_id, body="Line card 7 is down", author_actor="tenant", is_internal=True
    )
    await service.tickets.add_message(
        created.ticket_id, body="A technician is on the way", author_actor="tenant"
    )
    agent = await ticket_detail(
        service.session, Principal.tenant_agent("acme"), created.ticket_number
    )
    customer = await ticket_detail(
        service.session, Principal.customer("acme", "42"), created.ticket_number
    )
    assert agent.sla is not None and customer.sla is None
    bodies = [m.body for m in customer.messages]
    assert "A technician is on the way" in bodies and "Line card 7 is down" not in bodies
    assert "Line card 7 is down" in [m.body for m in agent.messages]
    assert customer.ticket.ticket_id == created.ticket_id
