"""Lists of tickets: filters, search and counts, each served by an index (migrations 0022, 0027).

Every list is newest first (number descending) and pages by keyset (`number < cursor`), so a
page costs the same at ticket 20 and at ticket 1,000,000: each filter has an index that starts
(tenant_id, <filter>, number), read backwards and stopped after a page.

Search (ticketing.tickets.search says what it matches) runs one query per kind of match and
merges them newest first. Row-level security hides from the planner every index whose
condition uses a function that is not LEAKPROOF (`@@`, `lower()`), so the title words and
customer emails are matched in two views (migration 0027) that show only rows of tenants this
transaction may see; the tickets themselves are read from `tickets` under its policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    cast,
    column,
    func,
    literal,
    literal_column,
    not_,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.auth.scope import ticket_scope
from ticketing.core.enums import Priority, TicketStatus
from ticketing.tenants.repository import CUSTOMER_EMAIL_KEYS
from ticketing.tickets.models import Ticket
from ticketing.tickets.repository import scoped_tickets
from ticketing.tickets.search import SearchTerms, search_terms

# The views of migration 0027.
_TITLE_TERMS = table(
    "ticket_title_terms",
    column("number", BigInteger),
    column("tenant_id", String),
    column("terms", TSVECTOR),
)
# Kept by the triggers of migration 0027: rows of (tenant, status, +/- tickets) to be summed.
_STATUS_COUNTS = table(
    "ticket_status_counts",
    column("tenant_id", String),
    column("status", String),
    column("tickets", BigInteger),
)
# The title index's lexeme '%<number // NUMBER_RANGE>' (migration 0027) groups tickets by
# ranges of numbers, so a search can ask the index for the newest ranges first.
NUMBER_RANGE = 65536
# Above every character a prefix can be followed by (text_pattern_ops compares bytes).
_AFTER_PREFIX = chr(0x10FFFF)


@dataclass(frozen=True)
class TicketFilters:
    status: TicketStatus | None = None
    priority: Priority | None = None
    ticket_type: str | None = None
    assigned_to: str | None = None
    assigned_team: str | None = None
    breached: bool | None = None
    search: str | None = None
    # Keyset pagination: only tickets numbered below this.
    before_number: int | None = None
    # Any of these statuses (the desk's "unsolved"); `status` narrows further.
    statuses: frozenset[TicketStatus] | None = None
    # One tenant of those the principal sees (platform staff's tenant filter).
    tenant_id: str | None = None
    # Linked to an outage (True), not linked (False), either (None): the desk's "Outage".
    outage: bool | None = None


def _filtered(principal: Principal, filters: TicketFilters) -> Select[tuple[Ticket]]:
    query = scoped_tickets(principal)
    if ticket_scope(principal).min_escalation_level > 1:
        # Said as a constant too, so the partial index of escalated tickets serves partners.
        query = query.where(Ticket.escalation_level > literal_column("1"))
    if filters.tenant_id is not None:
        query = query.where(Ticket.tenant_id == filters.tenant_id)
    if filters.status is not None:
        query = query.where(Ticket.status == filters.status)
    if filters.statuses is not None:
        query = query.where(Ticket.status.in_(sorted(filters.statuses)))
    if filters.priority is not None:
        query = query.where(Ticket.priority == filters.priority)
    if filters.ticket_type is not None:
        query = query.where(cast(Ticket.ticket_type, String) == filters.ticket_type)
    if filters.assigned_to is not None:
        query = query.where(Ticket.assigned_to == filters.assigned_to)
    if filters.assigned_team is not None:
        query = query.where(Ticket.assigned_team == filters.assigned_team)
    if filters.breached is not None:
        # A bare column (no parameter) matches the partial index's predicate.
        query = query.where(Ticket.sla_breached if filters.breached else not_(Ticket.sla_breached))
    if filters.outage is not None:
        linked = Ticket.outage_number.is_not(None)
        query = query.where(linked if filters.outage else ~linked)
    if filters.before_number is not None:
        query = query.where(Ticket.number < filters.before_number)
    return query


def _tenant(principal: Principal, filters: TicketFilters) -> str | None:
    return filters.tenant_id or ticket_scope(principal).tenant_id


def _matches(terms: SearchTerms, tenant: str | None) -> list[ColumnElement[bool]]:
    """One condition per kind of match but title words: each has its own index, so each
    runs alone."""
    matches: list[ColumnElement[bool]] = [Ticket.customer_id == terms.text]
    if terms.number is not None:
        matches.append(Ticket.number == terms.number)
    if terms.email_prefix is not None:
        prefix = func.lower(terms.email_prefix)
        customers = select(CUSTOMER_EMAIL_KEYS.c.tenant_id, CUSTOMER_EMAIL_KEYS.c.id).where(
            # ~>=~ and ~<~ are text_pattern_ops' own (leakproof) comparisons: an index range.
            CUSTOMER_EMAIL_KEYS.c.email_key.op("~>=~", is_comparison=True)(prefix),
            # (bracketed: ~<~ and || bind alike, left to right)
            CUSTOMER_EMAIL_KEYS.c.email_key.op("~<~", is_comparison=True)(
                prefix.concat(_AFTER_PREFIX).self_group()
            ),
        )
        if tenant is not None:
            customers = customers.where(CUSTOMER_EMAIL_KEYS.c.tenant_id == tenant)
        matches.append(tuple_(Ticket.tenant_id, Ticket.customer_id).in_(customers))
    return matches


def _words_match(
    terms: SearchTerms,
    tenant: str | None,
    before: int | None,
    page: int | None,
    ranges: tuple[int, int] | None = None,
) -> ColumnElement[bool]:
    """Tickets whose title has the words typed; with `page`, only the newest `page` of them
    (numbered below `before`, in the number ranges `ranges` (first, last), if given)."""
    assert terms.words is not None
    query: ColumnElement[Any] = func.to_tsquery(literal_column("'simple'::regconfig"), terms.words)
    if tenant is not None:
        # The tenant's own lexeme (migration 0027), so the index answers for it alone.
        query = query.op("&&")(cast(literal(lexeme(f"#{tenant}")), TSQUERY))
    if ranges is not None:
        first, last = ranges
        either = " | ".join(lexeme(f"%{r}") for r in range(first, last + 1))
        query = query.op("&&")(cast(literal(either), TSQUERY))
    # (No tenant_id condition beside it: the planner would add a bitmap of every ticket of the
    # tenant from a btree, the costliest part of a rare word's search.)
    matching = _TITLE_TERMS.c.terms.op("@@", is_comparison=True)(query)
    numbers = select(_TITLE_TERMS.c.number).where(matching)
    if before is not None:
        numbers = numbers.where(_TITLE_TERMS.c.number < before)
    if page is not None:
        # Only the newest `page` matches go on to the tickets: no other condition can drop
        # one (see _narrower_than_tenant).
        numbers = numbers.order_by(_TITLE_TERMS.c.number.desc()).limit(page)
    return Ticket.number.in_(numbers)


async def _newest_with_words(
    session: AsyncSession,
    query: Select[tuple[Ticket]],
    terms: SearchTerms,
    tenant: str | None,
    before: int | None,
    limit: int,
) -> list[Ticket]:
    """The newest `limit` tickets with the words, asking the index range by range of numbers
    from the newest (2, 4, 8, … ranges at a time): a word with thousands of matches is read
    only where the page is, a rare one in a few steps."""
    top = before - 1 if before is not None else None
    if top is None:
        top = (await session.execute(query.with_only_columns(func.max(Ticket.number)))).scalar()
    if top is None:
        return []
    found: list[Ticket] = []
    # Two ranges at first: the newest is often barely begun.
    last, width = top // NUMBER_RANGE, 2
    while last >= 0 and len(found) < limit:
        first = max(0, last - width + 1)
        match = _words_match(terms, tenant, before, limit, (first, last))
        statement = query.where(match).order_by(Ticket.number.desc()).limit(limit)
        found += (await session.execute(statement)).scalars()
        last, width = first - 1, width * 2
    return found[:limit]


def lexeme(text: str) -> str:
    """`text` as one quoted lexeme of tsquery input."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _narrower_than_tenant(principal: Principal, filters: TicketFilters) -> bool:
    """Whether anything but the tenant (and the cursor) limits the list."""
    scope = ticket_scope(principal)
    return bool(
        scope.customer_id is not None
        or scope.ticket_id is not None
        or scope.partner_id is not None
        or scope.min_escalation_level > 1
        or filters.status is not None
        or filters.statuses is not None
        or filters.priority is not None
        or filters.ticket_type is not None
        or filters.assigned_to is not None
        or filters.assigned_team is not None
        or filters.breached is not None
        or filters.outage is not None
    )


async def list_tickets(
    session: AsyncSession, principal: Principal, filters: TicketFilters, limit: int
) -> list[Ticket]:
    """Newest first; at most `limit` rows."""
    query = _filtered(principal, filters)
    if not filters.search:
        rows = await session.execute(query.order_by(Ticket.number.desc()).limit(limit))
        return list(rows.scalars())
    # Planned for the words typed, not for any words: a common word is read walking the
    # newest tickets, a rare one from the index.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    found: dict[int, Ticket] = {}
    terms, tenant = search_terms(filters.search), _tenant(principal, filters)
    matches = _matches(terms, tenant)
    if terms.words is not None and _narrower_than_tenant(principal, filters):
        matches.append(_words_match(terms, tenant, filters.before_number, None))
    for match in matches:
        statement = query.where(match).order_by(Ticket.number.desc()).limit(limit)
        for ticket in (await session.execute(statement)).scalars():
            found[ticket.number] = ticket
    if terms.words is not None and not _narrower_than_tenant(principal, filters):
        words = await _newest_with_words(
            session, query, terms, tenant, filters.before_number, limit
        )
        found |= {ticket.number: ticket for ticket in words}
    return [found[n] for n in sorted(found, reverse=True)[:limit]]


async def count_by_status(
    session: AsyncSession, principal: Principal, tenant_id: str | None
) -> dict[TicketStatus, int]:
    """How many tickets `principal` sees in each status (of one tenant, if named).

    A tenant's or the platform's whole view is summed from the counts the triggers of
    migration 0027 keep (a few rows per tenant); a narrower view (a partner's escalated
    tickets, a customer's own) is counted.
    """
    scope = ticket_scope(principal)
    if (
        scope.partner_id is None
        and scope.customer_id is None
        and scope.ticket_id is None
        and scope.min_escalation_level <= 1
        and (scope.everything or scope.tenant_id is not None)
    ):
        kept = select(_STATUS_COUNTS.c.status, func.sum(_STATUS_COUNTS.c.tickets))
        for tenant in {scope.tenant_id, tenant_id} - {None}:
            kept = kept.where(_STATUS_COUNTS.c.tenant_id == tenant)
        rows = await session.execute(kept.group_by(_STATUS_COUNTS.c.status))
        return {TicketStatus(status): int(count) for status, count in rows if count}
    scoped = scoped_tickets(principal)
    if tenant_id is not None:
        scoped = scoped.where(Ticket.tenant_id == tenant_id)
    query = scoped.with_only_columns(Ticket.status, func.count()).group_by(Ticket.status)
    return {TicketStatus(status): int(count) for status, count in await session.execute(query)}
