"""All SQL of Alertmanager alerts (the per-tag lock, the alert rows, who still fires) and of
the reconciler's sweep for outages with unsent work."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.outages.models import Outage, OutageAlert
from ticketing.outages.schemas import OutageStatus

FIRING = "firing"
RESOLVED = "resolved"


async def lock_tag(session: AsyncSession, tenant_id: str, tag: str) -> None:
    """Serialise the alerts of one tag until the transaction ends: two webhooks firing for one
    tag at once declare one outage, never two."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 28))"),
        {"key": f"outage-alert\n{tenant_id}\n{tag}"},
    )


async def get_alert(session: AsyncSession, tenant_id: str, fingerprint: str) -> OutageAlert | None:
    query = (
        select(OutageAlert)
        .where(OutageAlert.tenant_id == tenant_id, OutageAlert.fingerprint == fingerprint)
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def others_firing(
    session: AsyncSession, outage_id: uuid.UUID, tenant_id: str, fingerprint: str
) -> int:
    """Alerts other than this one that still fire for the outage."""
    query = select(func.count()).where(
        OutageAlert.outage_id == outage_id,
        OutageAlert.tenant_id == tenant_id,
        OutageAlert.status == FIRING,
        OutageAlert.fingerprint != fingerprint,
    )
    return int((await session.execute(query)).scalar_one())


async def outage_by_id(session: AsyncSession, outage_id: uuid.UUID) -> Outage | None:
    return (
        await session.execute(select(Outage).where(Outage.ticket_id == outage_id))
    ).scalar_one_or_none()


async def unsent_outages(session: AsyncSession, after: int | None, limit: int) -> list[Outage]:
    """Outages (any tenant the session sees) with an update not yet sent to everyone, in number
    order after `after`: the reconciler makes sure each has a run."""
    query = select(Outage).where(Outage.sent_seq < Outage.seq).order_by(Outage.number).limit(limit)
    if after is not None:
        query = query.where(Outage.number > after)
    return list((await session.execute(query)).scalars())


def is_active(outage: Outage | None) -> bool:
    return outage is not None and outage.status is OutageStatus.ACTIVE
