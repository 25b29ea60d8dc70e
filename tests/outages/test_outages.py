"""Outages on a real PostgreSQL with real commits: declare, link, update, resolve (inline runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.core.enums import TicketStatus
from ticketing.core.errors import InvalidInput, TicketNotFound
from ticketing.db.rls import bind_scope
from ticketing.notifications.service import QueueOnly
from ticketing.outages.flows import OutageFlows
from ticketing.outages.pages import run_page
from ticketing.outages.schemas import default_update_key
from ticketing.tenants.service import TenantService
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers

pytestmark = pytest.mark.asyncio(loop_scope="session")
TAG = "olt:berlin-7"


async def seed(sessions: async_sessionmaker[AsyncSession], customers: int) -> None:
    async with sessions() as s, s.begin():
        tenants = TenantService(s, Principal.platform())
        await tenants.register_tenant("acme", name="Acme ISP", support_email="desk@acme.test")
        await tenants.register_tenant("globex", name="Globex")
        for n in range(1, customers + 1):
            await tenants.upsert_customer(
                tenant_id="acme",
                customer_id=str(n),
                email=f"c{n}@example.com",
                tags=[TAG] if n % 2 else ["olt:other"],
            )


def flows(sessions: async_sessionmaker[AsyncSession], principal: Principal) -> OutageFlows:
    return OutageFlows(sessions, principal, watchers=NoWatchers(), notices=QueueOnly())


def tickets(sessions: async_sessionmaker[AsyncSession], principal: Principal) -> TicketFlows:
    return TicketFlows(sessions, principal, watchers=NoWatchers(), notices=QueueOnly())


async def outage_mail(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    async with sessions() as s:
        bind_scope(s, Principal.platform())
        rows = await s.execute(
            text(
                "SELECT kind, recipient, payload->>'body' FROM notifications"
                " WHERE kind IN ('outage_update', 'outage_resolved', 'support_replied')"
                " ORDER BY id"
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_declare_update_resolve_tells_each_affected_customer_once_per_update(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed, 9)  # customers 1,3,5,7,9 carry the tag
    admin = Principal.tenant_admin("acme", name="noc@acme.test")
    agent_tickets = tickets(committed, Principal.integration("acme"))
    before = await agent_tickets.create(
        {"title": "no internet", "description": "down", "customer_id": "3", "tenant_id": "acme"}
    )
    untagged = await agent_tickets.create(
        {"title": "billing", "description": "?", "customer_id": "2", "tenant_id": "acme"}
    )
    declared = await flows(committed, admin).declare(
        {"title": "Fibre cut Berlin", "description": "We are on it", "tags": [TAG]}
    )
    assert declared.affected == 5
    assert declared.ticket_type == "outage_report"

    linked = await agent_tickets.create(
        {"title": "down too", "description": "!", "customer_id": "5", "tenant_id": "acme"}
    )
    assert linked.outage == declared.ticket_number
    async with committed() as s:
        from ticketing.tickets.service import TicketService

        service = TicketService(s, admin)
        assert (await service.get_ticket(before.ticket_id)).outage == declared.ticket_number
        assert (await service.get_ticket(untagged.ticket_id)).outage is None
        messages, _ = await service.timeline(linked.ticket_id)
        assert messages[-1].body == "We are on it" and messages[-1].author_actor == "tenant"

    key = default_update_key(declared.ticket_number, "Splicing started")
    first = await flows(committed, admin).post_update(
        declared.ticket_number, "Splicing started", key=key
    )
    again = await flows(committed, admin).post_update(
        declared.ticket_number, "Splicing started", key=key
    )
    assert again == first
    await flows(committed, admin).resolve(declared.ticket_number, "Back online")
    await flows(committed, admin).resolve(declared.ticket_number, "Back online")

    mail = await outage_mail(committed)
    for body in ("We are on it", "Splicing started", "Back online"):
        got = sorted(r for _, r, b in mail if b == body)
        assert got == sorted(f"c{n}@example.com" for n in (1, 3, 5, 7, 9)), body
    async with committed() as s:
        service = TicketService(s, admin)
        for ticket in (before, linked):
            done = await service.get_ticket(ticket.ticket_id)
            assert done.status is TicketStatus.RESOLVED and not done.sla_breached
        assert (await service.get_ticket(untagged.ticket_id)).status is TicketStatus.OPEN
        rows = await s.execute(
            text("SELECT count(*) FROM notifications WHERE kind = 'ticket_resolved'")
        )
        assert rows.scalar_one() == 0
        detail = await OutageServiceFor(s, admin).detail(declared.ticket_number)
        assert detail.status == "resolved" and detail.linked == 2
        assert sorted(detail.linked_tickets) == sorted([before.ticket_number, linked.ticket_number])


def OutageServiceFor(session: AsyncSession, principal: Principal):  # noqa: N802
    from ticketing.outages.service import OutageService

    return OutageService(session, principal)


async def test_pages_keep_their_place_and_a_retry_repeats_nobody(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed, 25)  # 13 tagged
    admin = Principal.tenant_admin("acme", name="noc")

    class Later:
        async def changed(self, outage: object) -> None:
            return None

    outage_flows = OutageFlows(
        committed, admin, watchers=NoWatchers(), notices=QueueOnly(), runs=Later()
    )
    declared = await outage_flows.declare({"title": "OLT down", "tags": [TAG]})
    now = datetime.now(UTC)
    pages = []
    while True:
        async with committed() as s, s.begin():
            work = await run_page(s, "acme", declared.ticket_number, now, limit=4)
        pages.append(work.result)
        if not work.result.more:
            break
        # A page whose commit was lost runs again from the stored place: simulate by rolling
        # one back.
        async with committed() as s:
            async with s.begin():
                await run_page(s, "acme", declared.ticket_number, now, limit=4)
                await s.rollback()
    assert sum(p.notified for p in pages) == 13
    assert len(await outage_mail(committed)) == 13


async def test_bad_input_names_the_field_and_other_tenants_outage_is_missing(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    await seed(committed, 1)
    admin = Principal.tenant_admin("acme", name="noc")
    with pytest.raises(InvalidInput) as past:
        await flows(committed, admin).declare(
            {"title": "x", "tags": [TAG], "eta": datetime.now(UTC) - timedelta(hours=1)}
        )
    assert past.value.field == "eta"
    with pytest.raises(InvalidInput) as bad_tag:
        await flows(committed, admin).declare({"title": "x", "tags": ["has space"]})
    assert bad_tag.value.field.startswith("tags")
    declared = await flows(committed, admin).declare({"title": "x", "tags": [TAG]})
    other = Principal.tenant_admin("globex", name="noc")
    with pytest.raises(TicketNotFound):
        await flows(committed, other).post_update(declared.ticket_number, "hi", key="k")


async def test_a_resolution_before_the_first_update_reached_everyone_still_links_and_resolves(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    # A worker lost mid-way through the first update's pages: the resolution is committed
    # while pages of that update are still to run. Those pages link the tickets all the same,
    # and the resolution's pages resolve them; a ticket opened after the resolution stays out.
    await seed(committed, 25)  # 13 tagged: 1, 3, ..., 25
    admin = Principal.tenant_admin("acme", name="noc")
    agent = tickets(committed, Principal.integration("acme"))
    before = [
        await agent.create({"title": "No internet", "customer_id": str(n)}) for n in (1, 9, 25)
    ]

    class Later:
        async def changed(self, outage: object) -> None:
            return None

    outage_flows = OutageFlows(
        committed, admin, watchers=NoWatchers(), notices=QueueOnly(), runs=Later()
    )
    declared = await outage_flows.declare({"title": "OLT down", "tags": [TAG]})
    number = declared.ticket_number

    async def page() -> bool:
        async with committed() as s, s.begin():
            work = await run_page(s, "acme", number, datetime.now(UTC), limit=4)
        return work.result.more

    assert await page()  # customers 1, 11, 13, 15 (text order): only customer 1's ticket linked
    await outage_flows.resolve(number, "Back online")
    after = await agent.create({"title": "Slow again", "customer_id": "23"})
    while await page():
        pass
    async with committed() as s:
        bind_scope(s, Principal.platform())
        rows = await s.execute(
            text("SELECT id, outage_number IS NOT NULL, status FROM tickets WHERE id = ANY(:ids)"),
            {"ids": [t.ticket_id for t in [*before, after]]},
        )
        state = {r[0]: (r[1], r[2]) for r in rows}
    assert [state[t.ticket_id] for t in before] == [(True, TicketStatus.RESOLVED.value)] * 3
    assert state[after.ticket_id] == (False, TicketStatus.OPEN.value)
