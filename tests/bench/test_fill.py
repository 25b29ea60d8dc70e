"""bench.fill on real PostgreSQL: a consistent database that the product goes on using."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.fill import fill, plan_tenants
from tests.conftest import truncate
from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.tickets.service import TicketService


def test_tenants_share_the_tickets_the_first_holding_the_largest_part() -> None:
    plans = plan_tenants(1_000_000, 50, 200_000)
    assert [p.id for p in plans[:2]] == ["isp-01", "isp-02"]
    assert plans[0].tickets == 200_000 and sum(p.tickets for p in plans) == 1_000_000
    assert max(p.tickets for p in plans[1:]) - min(p.tickets for p in plans[1:]) <= 1
    assert [p.tickets for p in plan_tenants(10, 1, 200_000)] == [10]
    with pytest.raises(ValueError, match="at least 1"):
        plan_tenants(0, 5, 1)


@pytest_asyncio.fixture
async def emptied(owner_engine: AsyncEngine) -> AsyncIterator[None]:
    await truncate(owner_engine)
    yield
    await truncate(owner_engine)


async def test_fill_makes_a_consistent_database_whose_numbering_goes_on(
    emptied: None,
    owner_url: str,
    owner_engine: AsyncEngine,
    committed: async_sessionmaker[AsyncSession],
) -> None:
    async with owner_engine.connect() as connection:
        # The truncate before this test emptied the counts with the tickets (its trigger).
        kept = await connection.execute(text("SELECT count(*) FROM ticket_status_counts"))
        assert kept.scalar_one() == 0
    report = await fill(owner_url, tickets=2_000, tenants=5, largest=800, seed=7)
    assert (report.tickets, report.first_number, report.last_number) == (2_000, 1, 2_000)
    async with owner_engine.connect() as connection:
        one = (
            await connection.execute(
                text("""
            SELECT count(*), count(DISTINCT number), min(number), max(number),
                   (SELECT value FROM ticket_counters WHERE name = 'ticket'),
                   (SELECT count(*) FROM tickets WHERE tenant_id = 'isp-01'),
                   (SELECT count(*) FROM tickets t WHERE NOT EXISTS (
                        SELECT 1 FROM ticket_messages m WHERE m.ticket_id = t.id)),
                   (SELECT count(*) FROM tickets t WHERE NOT EXISTS (
                        SELECT 1 FROM ticket_events e
                         WHERE e.ticket_id = t.id AND e.kind = 'created')),
                   (SELECT count(*) FROM tickets t WHERE sla_breached <> EXISTS (
                        SELECT 1 FROM sla_breaches b WHERE b.ticket_id = t.id)),
                   (SELECT count(DISTINCT status) FROM tickets)
              FROM tickets""")
            )
        ).one()
    assert tuple(one) == (2_000, 2_000, 1, 2_000, 2_000, 800, 0, 0, 0, 5)
    async with owner_engine.connect() as connection:
        # COPY fired the counting triggers: the kept counts are the tickets' own.
        differ = await connection.execute(
            text("""
            SELECT count(*) FROM (
                SELECT tenant_id, status, count(*) AS n FROM tickets GROUP BY 1, 2
            ) t FULL JOIN (
                SELECT tenant_id, status, sum(tickets) AS n FROM ticket_status_counts
                 GROUP BY 1, 2 HAVING sum(tickets) <> 0
            ) k USING (tenant_id, status)
             WHERE t.n IS DISTINCT FROM k.n""")
        )
        assert differ.scalar_one() == 0
    assert report.messages > report.tickets and report.breaches > 0

    # The product's own create takes the next number (gap-free), under the app role.
    async with committed() as session, session.begin():
        services = Services(session)
        await services.tenants.upsert_customer(tenant_id="isp-02", customer_id="900001")
        made = await services.tickets.create_ticket(
            {
                "title": "After the fill",
                "description": "-",
                "customer_id": "900001",
                "tenant_id": "isp-02",
            }
        )
    assert made.ticket_number == "TKT-002001"

    # Row-level security holds for the filled rows: a tenant sees its own tickets only.
    async with committed() as session:
        mine = await TicketService(session, Principal.tenant_agent("isp-03")).list_tickets(
            limit=500
        )
        counted = await TicketService(session, Principal.tenant_agent("isp-03")).status_counts()
        other = await TicketService(session, Principal.tenant_agent("nobody")).list_tickets()
    assert mine.items and {t.tenant_id for t in mine.items} == {"isp-03"}
    assert sum(counted.values()) == 300  # (2,000 - 800) / 4
    assert other.items == []

    # A second fill continues the numbering after the product's ticket.
    again = await fill(owner_url, tickets=10, tenants=2, largest=5, seed=8, analyze=False)
    assert (again.first_number, again.last_number) == (2_002, 2_011)
