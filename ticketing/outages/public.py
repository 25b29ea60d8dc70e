"""What the public sees of outages: the status page's active outages and, on a customer's own
ticket, the outage it is linked to. Titles, the tags the tenant marks public, ETA and the
updates (all of them were mailed to customers anyway); never a count of customers or tickets,
never a tag the tenant keeps private."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core.fields import is_identifier
from ticketing.db.rls import bind_scope
from ticketing.outages import repository as repo
from ticketing.outages.models import Outage, OutageUpdate
from ticketing.outages.schemas import OutageStatus, UpdateKind
from ticketing.sla.service import utcnow
from ticketing.tenants import repository as tenants_repo
from ticketing.tickets.numbering import parse_ticket_number

# A status page lists at most this many active outages (newest first).
MAX_ACTIVE = 50


def is_public(tag: str, rules: Sequence[str]) -> bool:
    """A rule is an exact tag (`olt:berlin-7`) or a prefix ending in ':' (`postcode:`)."""
    return any(tag == rule or (rule.endswith(":") and tag.startswith(rule)) for rule in rules)


def public_tags(tags: Sequence[str], rules: Sequence[str]) -> list[str]:
    return sorted(tag for tag in tags if is_public(tag, rules))


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    body: str
    resolution: bool = False


@dataclass(frozen=True)
class PublicOutage:
    """One outage as anyone may see it."""

    title: str
    status: OutageStatus
    tags: list[str]
    eta: datetime | None
    started_at: datetime
    resolved_at: datetime | None
    # Oldest first; the status page carries the latest one only.
    updates: list[PublicUpdate] = field(default_factory=list)

    @property
    def latest(self) -> PublicUpdate | None:
        return self.updates[-1] if self.updates else None

    def as_json(self) -> dict[str, object]:
        latest = self.latest
        return {
            "title": self.title,
            "status": self.status.value,
            "tags": self.tags,
            "eta": self.eta.isoformat() if self.eta else None,
            "started_at": self.started_at.isoformat(),
            "latest_update": None
            if latest is None
            else {"body": latest.body, "at": latest.at.isoformat()},
        }


@dataclass(frozen=True)
class StatusPage:
    """A tenant's active outages; an unknown tenant reads exactly as one with none (no name)."""

    tenant_id: str
    tenant_name: str | None
    outages: list[PublicOutage]
    checked_at: datetime


def _scope(session: AsyncSession, tenant_id: str) -> None:
    # The database wall: this tenant's rows only, whatever the queries below ask for.
    bind_scope(session, Principal.integration(tenant_id, "status page"))


async def status_page(session: AsyncSession, tenant_id: str) -> StatusPage:
    """The tenant's active outages, newest first, each with its latest update."""
    now = utcnow()
    if not is_identifier(tenant_id):  # `?tenant=` is anyone's text
        return StatusPage(tenant_id[:64], None, [], now)
    _scope(session, tenant_id)
    tenant = await tenants_repo.get_tenant(session, tenant_id)
    if tenant is None:
        return StatusPage(tenant_id, None, [], now)
    rows = await repo.list_outages(session, tenant_id, OutageStatus.ACTIVE, None, MAX_ACTIVE)
    outages = []
    for row in rows:
        latest = await repo.update_by_seq(session, row.ticket_id, row.seq)
        outages.append(_public(row, tenant.public_tags, [latest]))
    return StatusPage(tenant_id, tenant.name, outages, now)


async def linked_outage(
    session: AsyncSession, tenant_id: str, outage_number: str | None
) -> PublicOutage | None:
    """The outage a customer's ticket is linked to (`TicketInfo.outage`), with every update;
    None when it is not linked. Read under the ticket's own tenant only."""
    number = parse_ticket_number(outage_number) if outage_number else None
    if number is None:
        return None
    _scope(session, tenant_id)
    row = await repo.get_outage(session, tenant_id, number)
    if row is None:
        return None
    tenant = await tenants_repo.get_tenant(session, tenant_id)
    updates = await repo.updates_of(session, row.ticket_id)
    return _public(row, tenant.public_tags if tenant else [], updates)


def _public(row: Outage, rules: Sequence[str], updates: Sequence[OutageUpdate]) -> PublicOutage:
    return PublicOutage(
        title=row.title,
        status=row.status,
        tags=public_tags(row.tags, rules),
        eta=row.eta,
        started_at=row.created_at,
        resolved_at=row.resolved_at,
        updates=[
            PublicUpdate(u.created_at, u.body, u.kind is UpdateKind.RESOLUTION) for u in updates
        ],
    )
