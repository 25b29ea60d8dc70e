"""/api/v1/reports: ticket counts and SLA rates for dashboards, scoped by the key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query

from ticketing.tickets.reports import SlaReport, TicketCountsReport, TicketReports
from ticketing.web.deps import Caller, Ports
from ticketing.web.routing import api_router

router = api_router("/api/v1/reports", "reports")


@router.get("/tickets", summary="Counts by status, priority, type and breach, per tenant and team")
async def ticket_counts(caller: Caller, ports: Ports) -> TicketCountsReport:
    async with ports.sessions() as session:
        return await TicketReports(session, caller).ticket_counts()


@router.get("/sla", summary="SLA windows met and missed for tickets created in [from, to)")
async def sla_rates(
    caller: Caller,
    ports: Ports,
    period_from: Annotated[datetime, Query(alias="from", description="ISO time with zone.")],
    period_to: Annotated[datetime, Query(alias="to", description="ISO time with zone.")],
) -> SlaReport:
    async with ports.sessions() as session:
        return await TicketReports(session, caller).sla_rates(period_from, period_to)
