"""Dashboard reports: ticket counts by status, priority, type and breach state per tenant and
team, and SLA windows met or missed over a period; scoped like every ticket read."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, require_principal
from ticketing.core.errors import InvalidInput
from ticketing.db.rls import bind_scope
from ticketing.sla.service import SlaService, utcnow
from ticketing.sla.thresholds import SlaWindow
from ticketing.tickets import reports_repository as reports_repo

# Tickets judged per SLA report: a dashboard period, not an export.
MAX_SLA_TICKETS = 5000


class Breakdown(BaseModel):
    """Counts of one group (a tenant, or a tenant's team; `team` None = unassigned)."""

    tenant_id: str
    team: str | None = None
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    by_priority: dict[str, int] = Field(default_factory=dict)
    by_type: dict[str, int] = Field(default_factory=dict)
    breached: int = 0
    not_breached: int = 0
    # Of `total`, the tickets linked to an outage (counted apart: one fibre cut, hundreds).
    outage_linked: int = 0


class TicketCountsReport(BaseModel):
    tenants: list[Breakdown]
    teams: list[Breakdown]


class WindowRate(BaseModel):
    window: SlaWindow
    met: int
    missed: int
    # Still running and not yet overdue: neither met nor missed.
    open: int
    # met / (met + missed); None while nothing is decided.
    met_rate: float | None
    # The windows of outage tickets: their clocks stop for the outage, shown apart.
    outage_time: bool = False


class SlaReport(BaseModel):
    period_from: datetime
    period_to: datetime
    tickets: int
    windows: list[WindowRate]
    # Of `tickets`, those linked to an outage or an outage's own: an outage does not drown
    # the met rate, so `windows_excluding_outages` leaves them out and `outage_windows` shows
    # theirs apart, marked as outage time. `windows` stays every ticket's, as before.
    outage_tickets: int = 0
    windows_excluding_outages: list[WindowRate] = Field(default_factory=list)
    outage_windows: list[WindowRate] = Field(default_factory=list)


def _add(
    group: Breakdown, status: str, priority: str, kind: str, breached: bool, linked: bool, n: int
) -> None:
    group.total += n
    if linked:
        group.outage_linked += n
    for counts, key in (
        (group.by_status, status),
        (group.by_priority, priority),
        (group.by_type, kind),
    ):
        counts[key] = counts.get(key, 0) + n
    if breached:
        group.breached += n
    else:
        group.not_breached += n


class TicketReports:
    """Reports over the tickets the Principal may see."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "TicketReports")
        bind_scope(session, self.principal)

    async def ticket_counts(self) -> TicketCountsReport:
        """Counts per tenant and per (tenant, assigned team)."""
        rows = await reports_repo.counts(self.session, self.principal)
        tenants: dict[str, Breakdown] = {}
        teams: dict[tuple[str, str | None], Breakdown] = {}
        for tenant_id, team, status, priority, kind, breached, linked, n in rows:
            values = (str(status), str(priority), str(kind), bool(breached), bool(linked), int(n))
            _add(tenants.setdefault(tenant_id, Breakdown(tenant_id=tenant_id)), *values)
            key = (tenant_id, team)
            _add(teams.setdefault(key, Breakdown(tenant_id=tenant_id, team=team)), *values)
        return TicketCountsReport(
            tenants=[tenants[k] for k in sorted(tenants)],
            teams=[teams[k] for k in sorted(teams, key=lambda k: (k[0], k[1] or ""))],
        )

    async def sla_rates(
        self, period_from: datetime, period_to: datetime, *, now: datetime | None = None
    ) -> SlaReport:
        """Met and missed SLA windows of the tickets created in [from, to)."""
        start, end = _utc(period_from, "from"), _utc(period_to, "to")
        if end <= start:
            raise InvalidInput("to", period_to, "must be after from")
        rows = await reports_repo.created_between(
            self.session, self.principal, start, end, MAX_SLA_TICKETS + 1
        )
        if len(rows) > MAX_SLA_TICKETS:
            raise InvalidInput("from", period_from, f"more than {MAX_SLA_TICKETS} tickets")
        now = now or utcnow()
        sla = SlaService(self.session, self.principal)
        # Keyed by (outage ticket, window, met).
        tally: Counter[tuple[bool, str, bool | None]] = Counter()
        for ticket_id, outage in rows:
            stats = await sla.statistics(ticket_id, now=now)
            for outcome in stats.windows:
                tally[(outage, outcome.window, outcome.met)] += 1
        return SlaReport(
            period_from=period_from,
            period_to=period_to,
            tickets=len(rows),
            windows=[_rate(window, tally, (False, True)) for window in SlaWindow],
            outage_tickets=sum(1 for _, outage in rows if outage),
            windows_excluding_outages=[_rate(window, tally, (False,)) for window in SlaWindow],
            outage_windows=[_rate(window, tally, (True,)) for window in SlaWindow],
        )


def _rate(
    window: SlaWindow, tally: Counter[tuple[bool, str, bool | None]], outage: tuple[bool, ...]
) -> WindowRate:
    def count(met: bool | None) -> int:
        return sum(tally[(o, window.value, met)] for o in outage)

    met, missed = count(True), count(False)
    decided = met + missed
    return WindowRate(
        window=window,
        met=met,
        missed=missed,
        open=count(None),
        met_rate=None if decided == 0 else met / decided,
        outage_time=outage == (True,),
    )


def _utc(value: datetime, field: str) -> datetime:
    """`value` in UTC; a naive time, or one whose UTC falls outside the calendar (year 1 at
    +22:08 is year 0 there), is refused naming the field."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, value, "give a time zone (e.g. Z or +01:00)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(field, value, "out of range once converted to UTC") from None
