"""Gap-free ticket numbers under concurrency, rollbacks and idempotent retries."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.db.metadata import Ticket
from ticketing.tickets.numbering import format_ticket_number, parse_ticket_number
from ticketing.tickets.service import TicketService


def test_format_pads_to_six_and_widens() -> None:
    assert format_ticket_number(123) == "TKT-000123"
    assert format_ticket_number(999_999) == "TKT-999999"
    assert format_ticket_number(1_000_000) == "TKT-1000000"
    with pytest.raises(ValueError, match="positive"):
        format_ticket_number(0)


@given(st.integers(min_value=1, max_value=10**12))
def test_parse_inverts_format(value: int) -> None:
    assert parse_ticket_number(format_ticket_number(value)) == value


@pytest.mark.parametrize("text", ["TKT-12", "TKT-00001a", "tkt", "", "TKT--000001"])
def test_parse_rejects_malformed(text: str) -> None:
    assert parse_ticket_number(text) is None


async def test_concurrent_creates_with_rollbacks_leave_no_gap(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme")
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="1")

    rng = random.Random(7)
    plan = [rng.random() < 0.15 for _ in range(200)]  # True: this create is rolled back
    retried_keys = [f"req-{i}" for i in range(0, 200, 10)]

    async def worker(jobs: list[int]) -> list[str]:
        kept = []
        for i in jobs:
            async with committed() as session:
                service = Services(session)
                info = await service.tickets.create_ticket(
                    {"title": f"t{i}", "customer_id": 1, "idempotency_key": f"req-{i}"}
                )
                if plan[i]:
                    await session.rollback()
                else:
                    await session.commit()
                    kept.append(info.ticket_number)
        return kept

    jobs = [list(range(w, 200, 20)) for w in range(20)]
    results = await asyncio.gather(*(worker(j) for j in jobs))

    # Retries of committed requests (the same idempotency key) return the same ticket.
    async def retry(key: str) -> str:
        async with committed() as session, session.begin():
            info = await Services(session).tickets.create_ticket(
                {"title": "retry", "customer_id": 1, "idempotency_key": key}
            )
            return info.ticket_number

    retried = await asyncio.gather(*(retry(k) for k in retried_keys))

    async with committed() as session:
        rows = (await session.execute(select(Ticket.number, Ticket.idempotency_key))).all()
    numbers = sorted(n for n, _ in rows)
    kept_count = sum(1 for rolled_back in plan if not rolled_back)
    rolled_back_retries = sum(1 for k in retried_keys if plan[int(k.split("-")[1])])
    assert len(numbers) == kept_count + rolled_back_retries
    assert numbers == list(range(1, len(numbers) + 1))
    kept = [n for batch in results for n in batch]
    assert len(set(kept)) == kept_count
    assert set(kept) <= {format_ticket_number(n) for n in numbers}
    by_key = {key: format_ticket_number(n) for n, key in rows}
    assert list(retried) == [by_key[k] for k in retried_keys]


async def test_racing_creates_with_one_key_make_one_ticket(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme")
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="1")

    async def create(title: str) -> str:
        async with committed() as session, session.begin():
            info = await Services(session).tickets.create_ticket(
                {"title": title, "customer_id": 1, "idempotency_key": "same"}
            )
            return info.ticket_number

    numbers = await asyncio.gather(*(create(f"t{i}") for i in range(10)))
    assert set(numbers) == {"TKT-000001"}
    follow_up = await create("next")
    assert follow_up == "TKT-000001"
    async with committed() as session, session.begin():
        other = await Services(session).tickets.create_ticket({"title": "x", "customer_id": 1})
    assert other.ticket_number == "TKT-000002"


async def test_racing_alone_creates_burn_no_number(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    """The flows' create commits by itself: a duplicate key fails its statement whole, so a
    lost race hands back nothing and the next ticket takes the next number."""
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme")
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="1")

    async def create(title: str, key: str) -> str:
        async with committed() as session:
            created = await TicketService(session, Principal.platform()).create_ticket_alone(
                {"title": title, "customer_id": 1, "idempotency_key": key}
            )
            return created.ticket.ticket_number

    keys = ["same"] * 10 + [f"own-{i}" for i in range(10)]
    numbers = await asyncio.gather(*(create(f"t{i}", key) for i, key in enumerate(keys)))
    assert len(set(numbers[:10])) == 1
    assert len(set(numbers)) == 11
    async with committed() as session:
        stored = sorted((await session.execute(select(Ticket.number))).scalars())
        counter = (await session.execute(text("SELECT value FROM ticket_counters"))).scalar()
    assert stored == list(range(1, 12)) and counter == 11


async def test_alone_create_refuses_an_open_transaction(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    async with committed() as session, session.begin():
        with pytest.raises(RuntimeError, match="no transaction"):
            await TicketService(session, Principal.platform()).create_ticket_alone(
                {"title": "x", "customer_id": 1}
            )
