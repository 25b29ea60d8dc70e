"""Bounced addresses: a permanent delivery failure reported for one of our notices flags its
recipient (per tenant); the dispatcher then fails notices to it at once, and the address's next
mail in (a ticket or a reply) clears the flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Only an address the report names *and* one of the reported notices was sent to: a report
# cannot flag an address we never wrote to.
_FLAG_BOUNCED = text(
    """
INSERT INTO bounced_addresses (tenant_id, address, reason, bounced_at, mail_id)
SELECT DISTINCT n.tenant_id, lower(n.recipient), CAST(:reason AS text),
       CAST(:now AS timestamptz), CAST(:mail_id AS bigint)
FROM notifications n
WHERE n.id = ANY(:ids) AND lower(n.recipient) = ANY(:named)
ON CONFLICT (tenant_id, address) DO UPDATE
SET reason = EXCLUDED.reason, bounced_at = EXCLUDED.bounced_at, mail_id = EXCLUDED.mail_id,
    reports = bounced_addresses.reports + 1
"""
)


async def flag_bounced(
    session: AsyncSession,
    ids: tuple[int, ...],
    named: tuple[str, ...],
    reason: str,
    mail_id: int,
    now: datetime,
) -> None:
    """Flag the recipients of the reported notices that the report names as failed for good."""
    params = {
        "ids": list(ids),
        "named": [address.lower() for address in named],
        "reason": reason[:1000],
        "now": now,
        "mail_id": mail_id,
    }
    await session.execute(_FLAG_BOUNCED, params)


@dataclass(frozen=True)
class BouncedAddress:
    tenant_id: str
    address: str
    reason: str
    bounced_at: datetime
    reports: int


_BOUNCED = text(
    "SELECT tenant_id, address, reason, bounced_at, reports FROM bounced_addresses"
    " WHERE CAST(:tenant_id AS text) IS NULL OR tenant_id = :tenant_id"
    " ORDER BY bounced_at DESC, address LIMIT :limit"
)


async def bounced_addresses(
    session: AsyncSession, tenant_id: str | None, limit: int
) -> list[BouncedAddress]:
    """Flagged addresses newest first (scoped by the session's RLS)."""
    params = {"tenant_id": tenant_id, "limit": limit}
    return [BouncedAddress(*row) for row in (await session.execute(_BOUNCED, params)).all()]


_UNFLAG = text(
    "DELETE FROM bounced_addresses WHERE tenant_id = :tenant_id AND address = lower(:address)"
    " RETURNING address"
)


async def unflag(session: AsyncSession, tenant_id: str, address: str) -> bool:
    params = {"tenant_id": tenant_id, "address": address}
    return (await session.execute(_UNFLAG, params)).first() is not None
