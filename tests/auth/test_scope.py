"""One scope rule: the SQL base statement and the rule over a row read agree for every kind of
principal, on real rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.auth.scope import ticket_scope
from ticketing.core.errors import NoPrincipal
from ticketing.db.rls import bind_system
from ticketing.notifications.service import NotificationService
from ticketing.teams.service import TeamService
from ticketing.tenants.models import Tenant
from ticketing.tickets.models import Ticket
from ticketing.tickets.repository import scoped_tickets


@pytest.fixture
async def tickets(service: Services, tenant: str) -> list[Ticket]:
    await service.tenants.upsert_customer(tenant_id="acme", customer_id="43", email="n@a.test")
    for customer, title in (("42", "a"), ("42", "b"), ("43", "c")):
        await service.tickets.create_ticket(
            {"title": title, "customer_id": customer, "tenant_id": "acme"}
        )
    for title in ("d", "e"):
        await service.tickets.create_ticket(
            {"title": title, "customer_id": 7, "tenant_id": "globex"}
        )
    bind_system(service.session)
    await service.session.execute(
        update(Ticket).where(Ticket.title == "e").values(escalation_level=2)
    )
    return list(await service.session.scalars(select(Ticket).order_by(Ticket.title)))


async def test_the_statement_and_the_row_rule_agree(
    service: Services, tickets: list[Ticket]
) -> None:
    partners = {row.id: row.partner_id for row in await service.session.scalars(select(Tenant))}
    principals = [
        Principal.platform(),
        Principal.reconciler(),
        Principal.tenant_agent("acme"),
        Principal.tenant_admin("globex"),
        Principal.customer("acme", "42"),
        Principal.partner_agent("fiberco"),
        Principal.watcher(tickets[2].id),
    ]
    seen_by = {}
    for principal in principals:
        bind_system(service.session)
        query = scoped_tickets(principal).with_only_columns(Ticket.title).order_by(Ticket.title)
        by_statement = list(await service.session.scalars(query))
        scope = ticket_scope(principal)
        by_rule = [
            row.title
            for row in tickets
            if scope.admits(
                ticket_id=row.id,
                tenant_id=row.tenant_id,
                partner_id=partners[row.tenant_id],
                customer_id=row.customer_id,
                escalation_level=row.escalation_level,
            )
        ]
        assert by_statement == by_rule, principal
        seen_by[principal.role.value + (principal.tenant_id or principal.partner_id or "")] = (
            by_rule
        )
    assert seen_by["platform"] == ["a", "b", "c", "d", "e"]
    assert seen_by["tenant_agentacme"] == ["a", "b", "c"]
    assert seen_by["customeracme"] == ["a", "b"]
    assert seen_by["partner_agentfiberco"] == ["e"]


@pytest.mark.parametrize("service_class", [TeamService, NotificationService])
def test_no_service_without_a_principal(service: Services, service_class: type) -> None:
    with pytest.raises(NoPrincipal):
        service_class(service.session, None)
