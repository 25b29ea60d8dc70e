"""What a create reads before it writes (the customer, its tenant's SLA settings, its team, an
active outage it is behind): one statement, in the repository layer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.driver import driver_connection, positional


@dataclass(frozen=True)
class CreateContext:
    """Everything a create needs from the database, read in its first statement."""

    customer_id: str
    customer_email: str | None
    tenant_id: str
    partner_id: str | None
    sla_policy: dict[str, Any] | None
    calendar: dict[str, Any] | None
    existing_ticket_id: uuid.UUID | None
    customer_plan: str | None
    # The named team hands out new tickets (round-robin or least-loaded): read here so a team
    # that does not costs the create no round trip of its own.
    team_assigns: bool
    # The named team is one of the tenant's (False also when none is named).
    team_known: bool = False
    # The fingerprint stored with the ticket already made for this key (None: none stored).
    existing_fingerprint: str | None = None
    # The customer carries a tag of an active outage: the flow links the ticket after the
    # commit (read here so the ordinary create costs no statement of its own for it).
    outage_active: bool = False


# The customer and its tenant's SLA settings, any ticket already made for this key, and whether
# the ticket's team assigns. A read: nothing is locked until the insert takes its number. Two
# rows only when a platform create names no tenant and two tenants have a customer with this id.
_CREATE_CONTEXT = """
SELECT c.id, c.email, t.id, t.partner_id, t.sla_policy, t.calendar, k.id AS existing, c.plan,
       EXISTS (SELECT 1 FROM teams m WHERE m.tenant_id = c.tenant_id AND m.name = :team
                AND m.assignment_mode <> 'none') AS team_assigns,
       EXISTS (SELECT 1 FROM teams m WHERE m.tenant_id = c.tenant_id AND m.name = :team)
         AS team_known,
       k.idempotency_fingerprint,
       EXISTS (SELECT 1 FROM outages o WHERE o.tenant_id = c.tenant_id
                AND o.status = 'active' AND o.tags && c.tags) AS outage_active
FROM customers c JOIN tenants t ON t.id = c.tenant_id
LEFT JOIN tickets k ON k.tenant_id = c.tenant_id AND k.idempotency_key = :key
WHERE c.id = :customer_id AND (CAST(:tenant_id AS text) IS NULL OR c.tenant_id = :tenant_id)
LIMIT 2
"""
_CREATE_CONTEXT_PARAMS = ("customer_id", "tenant_id", "key", "team")
_CREATE_CONTEXT_SQL = text(_CREATE_CONTEXT)
_CREATE_CONTEXT_DRIVER = positional(_CREATE_CONTEXT, _CREATE_CONTEXT_PARAMS)


async def create_context(
    session: AsyncSession,
    *,
    tenant_id: str | None,
    customer_id: str,
    idempotency_key: str | None,
    team: str | None,
    alone: bool,
) -> list[CreateContext]:
    """The customer (in `tenant_id`, when given) with what a create needs; empty if none.

    `alone`: read outside any transaction, on the driver (the create commits by itself next);
    else through the session, which begins the caller's transaction.
    """
    if alone:
        driver = await driver_connection(session, transaction=False)
        rows: Sequence[Sequence[Any]] = await driver.fetch(
            _CREATE_CONTEXT_DRIVER, customer_id, tenant_id, idempotency_key, team
        )
    else:
        result = await session.execute(
            _CREATE_CONTEXT_SQL,
            {
                "customer_id": customer_id,
                "tenant_id": tenant_id,
                "key": idempotency_key,
                "team": team,
            },
        )
        rows = list(result.tuples())
    return [
        CreateContext(
            customer_id=row[0],
            customer_email=row[1],
            tenant_id=row[2],
            partner_id=row[3],
            sla_policy=_json(row[4]),
            calendar=_json(row[5]),
            existing_ticket_id=row[6],
            customer_plan=row[7],
            team_assigns=bool(row[8]),
            team_known=bool(row[9]),
            existing_fingerprint=row[10],
            outage_active=bool(row[11]),
        )
        for row in rows
    ]


def _json(value: object) -> Any:
    # asyncpg hands jsonb over as text unless a codec is set on the connection.
    return json.loads(value) if isinstance(value, str) else value
