"""Search by number, customer email prefix and title words, on real PostgreSQL, under the app
role (row-level security on), through the indexes and views of migration 0027."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.services import Services
from tests.tickets.test_service import request
from ticketing.tickets.search import MAX_WORDS, search_terms


def test_search_terms_read_the_text_typed() -> None:
    assert search_terms(" TKT-000123 ").number == 123
    assert search_terms("tkt-45").number == 45
    assert search_terms("000789").number == 789
    assert search_terms("0").number is None
    assert search_terms("Jane@Example").email_prefix == "Jane@Example"
    assert search_terms("Fibre cut!").words == "Fibre & cut"
    # Only letters and digits reach to_tsquery: no operator typed changes the query.
    assert search_terms("a & !b | c:* 'd'").words == "a & b & c & d"
    assert search_terms("Müller-Lüdenscheidt").words == "Müller & Lüdenscheidt"
    assert search_terms("%%% ___").words is None
    assert len(search_terms(" ".join("w" * n for n in range(1, 20))).words.split(" & ")) == (
        MAX_WORDS
    )


async def titles(service: Services, tenant: str | None, q: str) -> list[str]:
    tickets = service.tickets if tenant is None else service.for_tenant(tenant).tickets
    return [t.title for t in (await tickets.list_tickets(search=q)).items]


async def test_search_by_number_email_prefix_and_title_words(
    service: Services, tenant: str
) -> None:
    await service.tenants.upsert_customer(
        tenant_id="acme", customer_id="43", email="Jan.Novak@Example.NET"
    )
    first = await service.tickets.create_ticket(request(title="No internet since Monday"))
    await service.tickets.create_ticket(
        request(customer_id=43, title="Router FritzBox 7590 keeps rebooting")
    )
    await service.tickets.create_ticket(request(title="Internet slow, router fine"))
    await service.tickets.create_ticket(request(customer_id=7, title="Internet down at Globex"))

    # Title words, any case, every word typed, whole words only, newest first.
    assert await titles(service, "acme", "INTERNET") == [
        "Internet slow, router fine",
        "No internet since Monday",
    ]
    assert await titles(service, "acme", "router internet") == ["Internet slow, router fine"]
    assert await titles(service, "acme", "fritzbox 7590") == [
        "Router FritzBox 7590 keeps rebooting"
    ]
    assert await titles(service, "acme", "inter") == []
    # Another tenant's ticket never shows, whatever matches it.
    assert await titles(service, "globex", "internet") == ["Internet down at Globex"]
    assert len(await titles(service, None, "internet")) == 3

    # A number, with or without its prefix and zeros.
    assert await titles(service, "acme", first.ticket_number) == ["No internet since Monday"]
    assert await titles(service, "acme", "1") == ["No internet since Monday"]
    assert await titles(service, "globex", first.ticket_number) == []

    # An email: the start of the address, any case; exactly the customers it names.
    assert await titles(service, "acme", "jan.novak@") == ["Router FritzBox 7590 keeps rebooting"]
    assert await titles(service, "acme", "JAN.NOVAK@example.net") == [
        "Router FritzBox 7590 keeps rebooting"
    ]
    assert await titles(service, "acme", "jane@EXAMPLE") == [
        "Internet slow, router fine",
        "No internet since Monday",
    ]
    assert await titles(service, "acme", "bob@example.com") == []
    assert await titles(service, "globex", "bob@") == ["Internet down at Globex"]
    # A customer id, exactly.
    assert len(await titles(service, "acme", "42")) == 2  # ticket TKT-000042 does not exist

    # Pages by the same cursor as every list.
    page = await service.for_tenant("acme").tickets.list_tickets(search="internet", limit=1)
    assert [t.title for t in page.items] == ["Internet slow, router fine"]
    rest = await service.for_tenant("acme").tickets.list_tickets(
        search="internet", limit=1, cursor=page.next_cursor
    )
    assert [t.title for t in rest.items] == ["No internet since Monday"]


@pytest.mark.parametrize(
    "index",
    [
        "ix_tickets_title_terms",
        "ix_customers_email_key",
        "ix_tickets_tenant_customer_number",
        "ix_tickets_tenant_team_number",
        "ix_tickets_tenant_type_number",
        "ix_tickets_tenant_breached_number",
        "ix_tickets_escalated_number",
    ],
)
async def test_each_filter_and_search_has_its_index(owner_engine: AsyncEngine, index: str) -> None:
    async with owner_engine.connect() as connection:
        found = (
            await connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": index}
            )
        ).scalar_one()
    assert found


async def test_search_views_show_only_visible_tenants_and_the_app_cannot_write_them(
    engine: AsyncEngine, service: Services, tenant: str
) -> None:
    await service.tickets.create_ticket(request(title="Acme outage"))
    await service.tickets.create_ticket(request(customer_id=7, title="Globex outage"))
    connection = await service.session.connection()
    rows = {}
    for scope in ("acme", "globex", "*", ""):
        await connection.execute(
            text("SELECT set_config('ticketing.tenant_id', :scope, true)"), {"scope": scope}
        )
        terms = await connection.execute(
            text("SELECT tenant_id FROM ticket_title_terms WHERE terms @@ 'outage'::tsquery")
        )
        emails = await connection.execute(
            text("SELECT DISTINCT tenant_id FROM customer_email_keys ORDER BY 1")
        )
        rows[scope] = (sorted(r[0] for r in terms), [r[0] for r in emails])
    assert rows["acme"] == (["acme"], ["acme"])
    assert rows["globex"] == (["globex"], ["globex"])
    assert rows["*"] == (["acme", "globex"], ["acme", "globex"])
    assert rows[""] == ([], [])
    async with engine.connect() as app:
        privileges = await app.execute(
            text(
                "SELECT has_table_privilege('ticket_title_terms', 'INSERT'),"
                " has_table_privilege('customer_email_keys', 'UPDATE'),"
                " has_table_privilege('ticket_title_terms', 'SELECT')"
            )
        )
        assert tuple(privileges.one()) == (False, False, True)


async def test_word_search_pages_across_ranges_of_numbers(service: Services, tenant: str) -> None:
    """The index is asked range by range of 65,536 numbers from the newest: matches in
    several ranges come back newest first and page on."""

    async def jump_to(value: int) -> None:
        await service.session.execute(
            text("UPDATE ticket_counters SET value = :v WHERE name = 'ticket'"), {"v": value}
        )

    oldest = await service.tickets.create_ticket(request(title="Fibre cut at the depot"))
    await jump_to(70_000)
    middle = await service.tickets.create_ticket(request(title="Fibre cut again"))
    await jump_to(300_000)
    await service.tickets.create_ticket(request(title="Something else"))
    newest = await service.tickets.create_ticket(request(title="fibre CUT, third time"))
    acme = service.for_tenant("acme").tickets
    page = await acme.list_tickets(search="fibre cut", limit=2)
    assert [t.ticket_number for t in page.items] == [newest.ticket_number, middle.ticket_number]
    rest = await acme.list_tickets(search="fibre cut", limit=2, cursor=page.next_cursor)
    assert [t.ticket_number for t in rest.items] == [oldest.ticket_number]
    assert rest.next_cursor is None
    # The same with a filter (no paging inside the index) and across every tenant.
    assert len((await acme.list_tickets(search="fibre", priority="normal")).items) == 3
    assert len((await service.tickets.list_tickets(search="fibre")).items) == 3
