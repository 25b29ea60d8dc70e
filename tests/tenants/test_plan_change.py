"""A customer's plan change while its tickets are open re-targets them (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.notifications.service import QueueOnly
from ticketing.sla import DEFAULT_POLICY, SlaPolicy, SlaRule, SlaTargets
from ticketing.tenants.flows import TenantFlows
from ticketing.tenants.schemas import UpsertCustomerInput
from ticketing.tickets.schemas import TicketInfo

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
ENTERPRISE = SlaPolicy(
    targets=DEFAULT_POLICY.targets,
    rules=(
        SlaRule(
            "enterprise plan",
            targets={"normal": SlaTargets(H, 4 * H)},
            customer_plans=frozenset({"enterprise"}),
        ),
    ),
)


class Woken:
    def __init__(self) -> None:
        self.tickets: list[str] = []

    async def ensure(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)

    async def wake(self, ticket: TicketInfo) -> None:
        self.tickets.append(ticket.ticket_number)


async def test_a_plan_change_retargets_the_customers_open_tickets(committed: Sessions) -> None:
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme", sla_policy=ENTERPRISE)
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="42")
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="43")
        mine = await service.tickets.create_ticket({"title": "a", "customer_id": 42}, now=T0)
        other = await service.tickets.create_ticket({"title": "b", "customer_id": 43}, now=T0)
        done = await service.tickets.create_ticket({"title": "c", "customer_id": 42}, now=T0)
        await service.tickets.change_status(done.ticket_id, "resolved", now=T0 + H)
    assert mine.first_response_due == T0 + 8 * H
    woken = Woken()
    flows = TenantFlows(
        committed, Principal.tenant_admin("acme", name="boss"), watchers=woken, notices=QueueOnly()
    )
    change = UpsertCustomerInput(tenant_id="acme", customer_id="42", plan="enterprise")
    await flows.upsert_customer(change)
    async with committed() as session:
        service = Services(session)
        retargeted = await service.tickets.get_ticket(mine.ticket_id)
        untouched = await service.tickets.get_ticket(other.ticket_id)
    assert retargeted.first_response_due == T0 + H
    assert retargeted.sla_due_date == T0 + 4 * H
    assert untouched.first_response_due == T0 + 8 * H
    assert woken.tickets == [mine.ticket_number]
    # The same plan again moves nothing and wakes nobody.
    await flows.upsert_customer(change)
    assert woken.tickets == [mine.ticket_number]
