"""Tenant isolation: another tenant's ticket is indistinguishable from one that does not exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ticketing import errors
from ticketing.service import TicketingService

Operation = Callable[[TicketingService, str, str], Awaitable[Any]]

OPERATIONS: dict[str, Operation] = {
    "get_ticket": lambda s, ref, tenant: s.get_ticket(ref, tenant_id=tenant),
    "timeline": lambda s, ref, tenant: s.timeline(ref, tenant_id=tenant),
    "add_message": lambda s, ref, tenant: s.add_message(
        ref, body="hi", author_actor="tenant", tenant_id=tenant
    ),
    "change_status": lambda s, ref, tenant: s.change_status(ref, "resolved", tenant_id=tenant),
    "assign": lambda s, ref, tenant: s.assign(ref, assigned_to="mallory", tenant_id=tenant),
    "change_priority": lambda s, ref, tenant: s.change_priority(ref, "urgent", tenant_id=tenant),
    "escalate": lambda s, ref, tenant: s.escalate(ref, tenant_id=tenant),
    "record_breach": lambda s, ref, tenant: s.record_breach(ref, "resolution", tenant_id=tenant),
    "sla_snapshot": lambda s, ref, tenant: s.sla_snapshot(ref, tenant_id=tenant),
}


async def error_of(call: Awaitable[Any]) -> tuple[type[BaseException], str]:
    with pytest.raises(errors.TicketingError) as caught:
        await call
    return type(caught.value), caught.value.field or ""


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("by", ["number", "uuid"])
async def test_foreign_ticket_looks_like_a_missing_one(
    service: TicketingService, tenant: str, operation: str, by: str
) -> None:
    theirs = await service.create_ticket({"title": "Globex only", "customer_id": 7})
    before = await service.get_ticket(theirs.ticket_id)
    foreign = str(theirs.ticket_id) if by == "uuid" else theirs.ticket_number
    missing = "00000000-0000-4000-8000-000000000000" if by == "uuid" else "TKT-999998"
    op = OPERATIONS[operation]
    foreign_error = await error_of(op(service, foreign, "acme"))
    missing_error = await error_of(op(service, missing, "acme"))
    assert foreign_error == missing_error == (errors.TicketNotFound, "ticket")
    # Nothing about the foreign ticket changed.
    assert await service.get_ticket(theirs.ticket_id) == before
    # The owner still reaches it.
    await op(service, foreign, "globex")


async def test_list_is_scoped_to_the_tenant(service: TicketingService, tenant: str) -> None:
    await service.create_ticket({"title": "Acme one", "customer_id": 42})
    await service.create_ticket({"title": "Globex one", "customer_id": 7})
    acme = await service.list_tickets(tenant_id="acme", search="one")
    assert [t.tenant_id for t in acme.items] == ["acme"]
    nobody = await service.list_tickets(tenant_id="initech")
    assert nobody.items == []


async def test_create_for_another_tenants_customer_is_refused(
    service: TicketingService, tenant: str
) -> None:
    with pytest.raises(errors.TenantMismatch):
        await service.create_ticket({"title": "x", "customer_id": 7, "tenant_id": "acme"})
    with pytest.raises(errors.TenantMismatch):
        await service.upsert_customer(tenant_id="acme", customer_id="7", email="x@y.test")
