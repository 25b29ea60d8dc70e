"""`ticketing.TicketingService`: the embedding entry point, against a real PostgreSQL."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.services import Services
from ticketing import TicketingService
from ticketing.auth.principal import Principal
from ticketing.core import errors
from ticketing.tickets.schemas import TicketInfo


@pytest.fixture
async def world(committed: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    async with committed() as session, session.begin():
        service = Services(session)
        await service.register_tenant("acme", support_email="support@acme.test")
        await service.register_tenant("globex")
        await service.upsert_customer(tenant_id="acme", customer_id="42", email="j@a.test")
        await service.upsert_customer(tenant_id="globex", customer_id="7", email="b@g.test")
    return committed


async def test_create_ticket_with_the_legacy_signature(
    world: async_sessionmaker[AsyncSession],
) -> None:
    service = TicketingService(world, Principal.tenant_admin("acme"))
    created = await service.create_ticket(
        "No internet",
        "Router blinks red",
        42,
        priority="medium",
        ticket_type="installation_request",
        service_address="Main St 1",
        idempotency_key="order-1",
    )
    assert isinstance(created, TicketInfo)
    assert created.ticket_number == "TKT-000001"
    assert (created.tenant_id, created.customer_id) == ("acme", "42")
    assert created.priority.value == "normal"  # `medium` is `normal`, as on every door
    assert created.channel.value == "api"
    again = await service.create_ticket(
        "No internet", "Router blinks red", 42, priority="medium",
        ticket_type="installation_request", service_address="Main St 1",
        idempotency_key="order-1",
    )
    assert again.ticket_id == created.ticket_id
    detail = await service.ticket_detail(created.ticket_number)
    assert detail.ticket.ticket_id == created.ticket_id
    assert [e.kind for e in detail.events][:1] == ["created"]


async def test_platform_names_the_tenant_and_an_engine_works_too(
    world: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    service = TicketingService(engine, Principal.platform())
    created = await service.create_ticket("Slow", "", "7", tenant_id="globex")
    assert created.tenant_id == "globex"


async def test_bad_input_names_the_field_and_stores_nothing(
    world: async_sessionmaker[AsyncSession],
) -> None:
    service = TicketingService(world, Principal.tenant_admin("acme"))
    with pytest.raises(errors.InvalidInput) as bad:
        await service.create_ticket("", "no title", 42)
    assert bad.value.field == "title"
    with pytest.raises(errors.TicketingError) as missing:
        await service.create_ticket("Install", "", 42, ticket_type="installation_request")
    assert missing.value.field == "service_address"
    first = await service.create_ticket("First", "", 42)
    assert first.ticket_number == "TKT-000001"


async def test_another_tenants_ticket_looks_missing(
    world: async_sessionmaker[AsyncSession],
) -> None:
    globex = TicketingService(world, Principal.tenant_admin("globex"))
    theirs = await globex.create_ticket("Theirs", "", 7)
    acme = TicketingService(world, Principal.tenant_admin("acme"))
    with pytest.raises(errors.NotFound):
        await acme.get_ticket(theirs.ticket_number)
    with pytest.raises(errors.TicketingError):
        await acme.create_ticket("Cross", "", 7, tenant_id="globex")


def test_there_is_no_unscoped_default(world: object) -> None:
    with pytest.raises(errors.NoPrincipal):
        TicketingService(world, None)  # type: ignore[arg-type]


async def test_the_readme_example_runs(
    world: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Embedded in Python, without Temporal", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    url = re.search(r'make_engine\("([^"]+)"\)', code)
    assert url is not None
    body = code.replace(url.group(1), database_url)
    scope: dict[str, object] = {}
    source = "async def example():\n" + textwrap.indent(body + "return ticket, engine\n", "    ")
    exec(source, scope)
    ticket, engine = await scope["example"]()  # type: ignore[operator]
    try:
        assert isinstance(ticket, TicketInfo) and ticket.tenant_id == "acme"
        assert ticket.ticket_type.value == "outage_report"
    finally:
        await engine.dispose()
