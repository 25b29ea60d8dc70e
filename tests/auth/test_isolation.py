"""Scopes: another tenant's or customer's ticket is indistinguishable from one that does not
exist, a customer sees only its public timeline, and no service runs without a principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.core import errors
from ticketing.sla.service import SlaService
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService

Operation = Callable[[Services, str], Awaitable[Any]]

OPERATIONS: dict[str, Operation] = {
    "get_ticket": lambda s, ref: s.tickets.get_ticket(ref),
    "timeline": lambda s, ref: s.tickets.timeline(ref),
    "add_message": lambda s, ref: s.tickets.add_message(ref, body="hi", author_actor="tenant"),
    "change_status": lambda s, ref: s.tickets.change_status(ref, "resolved"),
    "assign": lambda s, ref: s.tickets.assign(ref, assigned_to=None),
    "change_priority": lambda s, ref: s.tickets.change_priority(ref, "urgent"),
    "escalate": lambda s, ref: s.escalate(ref),
    "sla_snapshot": lambda s, ref: s.sla.sla_snapshot(ref),
}


async def error_of(call: Awaitable[Any]) -> tuple[type[BaseException], str]:
    with pytest.raises(errors.TicketingError) as caught:
        await call
    return type(caught.value), caught.value.field or ""


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("by", ["number", "uuid"])
async def test_foreign_ticket_looks_like_a_missing_one(
    service: Services, tenant: str, operation: str, by: str
) -> None:
    theirs = await service.tickets.create_ticket({"title": "Globex only", "customer_id": 7})
    before = await service.tickets.get_ticket(theirs.ticket_id)
    foreign = str(theirs.ticket_id) if by == "uuid" else theirs.ticket_number
    missing = "00000000-0000-4000-8000-000000000000" if by == "uuid" else "TKT-999998"
    op = OPERATIONS[operation]
    acme = service.for_tenant("acme")
    foreign_error = await error_of(op(acme, foreign))
    missing_error = await error_of(op(acme, missing))
    assert foreign_error == missing_error == (errors.TicketNotFound, "ticket")
    # Nothing about the foreign ticket changed.
    assert await service.tickets.get_ticket(theirs.ticket_id) == before
    # The owner still reaches it.
    await op(service.for_tenant("globex"), foreign)


async def test_the_watcher_reaches_only_its_own_ticket(service: Services, tenant: str) -> None:
    mine = await service.tickets.create_ticket({"title": "Mine", "customer_id": 42})
    other = await service.tickets.create_ticket({"title": "Other", "customer_id": 42})
    watcher = service.as_(Principal.watcher(mine.ticket_id))
    assert (await watcher.sla.sla_snapshot(mine.ticket_id)).ticket_id == mine.ticket_id
    assert await error_of(watcher.sla.sla_snapshot(other.ticket_id)) == (
        errors.TicketNotFound,
        "ticket",
    )
    assert await error_of(watcher.sla.record_threshold(other.ticket_id, "resolution")) == (
        errors.TicketNotFound,
        "ticket",
    )


async def test_list_is_scoped_to_the_tenant(service: Services, tenant: str) -> None:
    await service.tickets.create_ticket({"title": "Acme one", "customer_id": 42})
    await service.tickets.create_ticket({"title": "Globex one", "customer_id": 7})
    acme = await service.for_tenant("acme").tickets.list_tickets(search="one")
    assert [t.tenant_id for t in acme.items] == ["acme"]
    nobody = await service.for_tenant("initech").tickets.list_tickets()
    assert nobody.items == []


async def test_create_for_another_tenants_customer_is_not_found(
    service: Services, tenant: str
) -> None:
    with pytest.raises(errors.CustomerNotFound) as caught:
        await service.tickets.create_ticket({"title": "x", "customer_id": 7, "tenant_id": "acme"})
    assert "globex" not in str(caught.value)
    acme = service.for_tenant("acme")
    # A tenant's principal cannot name another tenant in the body: that tenant "does not exist".
    with pytest.raises(errors.TenantNotFound):
        await acme.tickets.create_ticket({"title": "x", "customer_id": 7, "tenant_id": "globex"})
    with pytest.raises(errors.CustomerNotFound):
        await acme.tickets.create_ticket({"title": "x", "customer_id": 7})


async def test_customer_ids_are_per_tenant(service: Services, tenant: str) -> None:
    """globex's customer 42 is not acme's customer 42, and neither names the other tenant."""
    await service.tenants.upsert_customer(tenant_id="globex", customer_id="42", email="g42@g.test")
    acme_ticket = await service.tickets.create_ticket(
        {"title": "x", "customer_id": 42, "tenant_id": "acme"}
    )
    globex_ticket = await service.for_tenant("globex").tickets.create_ticket(
        {"title": "y", "customer_id": 42}
    )
    assert (acme_ticket.tenant_id, globex_ticket.tenant_id) == ("acme", "globex")
    acme_view = await service.for_tenant("acme").tickets.list_tickets()
    assert [t.ticket_number for t in acme_view.items] == [acme_ticket.ticket_number]
    # The platform must say which tenant once an id is ambiguous.
    with pytest.raises(errors.InvalidInput) as caught:
        await service.tickets.create_ticket({"title": "z", "customer_id": 42})
    assert caught.value.field == "tenant_id"
    assert "acme" not in str(caught.value) and "globex" not in str(caught.value)


async def test_a_service_without_a_principal_cannot_be_used(session: AsyncSession) -> None:
    for service_class in (TicketService, TenantService, SlaService):
        with pytest.raises(TypeError):
            service_class(session)  # type: ignore[call-arg]
        with pytest.raises(errors.NoPrincipal):
            service_class(session, None)  # type: ignore[arg-type]
        with pytest.raises(errors.NoPrincipal):
            service_class(session, "platform")  # type: ignore[arg-type]


async def test_a_customer_sees_only_its_own_tickets_and_public_messages(
    service: Services, tenant: str
) -> None:
    await service.tenants.upsert_customer(
        tenant_id="acme", customer_id="43", email="joe@example.com"
    )
    jane_ticket = await service.tickets.create_ticket({"title": "Jane's", "customer_id": 42})
    joe_ticket = await service.tickets.create_ticket({"title": "Joe's", "customer_id": 43})
    await service.tickets.add_message(
        jane_ticket.ticket_id, body="we're on it", author_actor="tenant"
    )
    await service.tickets.add_message(
        jane_ticket.ticket_id, body="customer is grumpy", author_actor="tenant", is_internal=True
    )
    jane = service.as_(Principal.customer("acme", "42", name="jane@example.com"))
    messages, events = await jane.tickets.timeline(jane_ticket.ticket_number)
    assert [m.body for m in messages][-1] == "we're on it"
    assert all(not m.is_internal for m in messages)
    assert "customer is grumpy" not in {m.body for m in messages}
    assert all(e.kind.value != "note_added" for e in events)
    # Joe's ticket, in the same tenant, is "not found" for Jane, exactly like a missing one.
    assert await error_of(jane.tickets.get_ticket(joe_ticket.ticket_number)) == await error_of(
        jane.tickets.get_ticket("TKT-999998")
    )
    assert [t.title for t in (await jane.tickets.list_tickets()).items] == ["Jane's"]
    # A customer can reply, but never internally and never change the status.
    await jane.tickets.add_message(jane_ticket.ticket_id, body="thanks")
    with pytest.raises(errors.Forbidden):
        await jane.tickets.add_message(jane_ticket.ticket_id, body="psst", is_internal=True)
    with pytest.raises(errors.Forbidden):
        await jane.tickets.add_message(
            jane_ticket.ticket_id, body="as agent", author_actor="tenant"
        )
    with pytest.raises(errors.Forbidden):
        await jane.tickets.change_status(jane_ticket.ticket_id, "closed")


async def test_a_partner_sees_only_tickets_escalated_to_it(service: Services, tenant: str) -> None:
    globex_ticket = await service.tickets.create_ticket({"title": "Globex L1", "customer_id": 7})
    partner = service.as_(Principal.partner_agent("fiberco", name="noc@fiberco.test"))
    assert await error_of(partner.tickets.get_ticket(globex_ticket.ticket_id)) == (
        errors.TicketNotFound,
        "ticket",
    )
    await service.escalate(globex_ticket.ticket_id, from_level=1)
    assert (await partner.tickets.get_ticket(globex_ticket.ticket_id)).escalation_level == 2
    acme_ticket = await service.tickets.create_ticket({"title": "Acme", "customer_id": 42})
    await service.escalate(acme_ticket.ticket_id, from_level=1)  # acme has no partner
    assert [t.title for t in (await partner.tickets.list_tickets()).items] == ["Globex L1"]
