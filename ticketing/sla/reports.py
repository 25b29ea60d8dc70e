"""A ticket's SLA statistics as the API and the CLI show them."""

from __future__ import annotations

from datetime import datetime

from ticketing.sla import SlaPolicy, sla_statistics
from ticketing.sla.clocks import clock_of
from ticketing.sla.repository import SlaRow
from ticketing.sla.schemas import SlaStatisticsInfo, WindowOutcomeInfo


def statistics_of(row: SlaRow, now: datetime, policy: SlaPolicy) -> SlaStatisticsInfo:
    """Business minutes to first response and resolution, holds, each window's outcome."""
    clock = clock_of(
        row, customer_plan=row.customer_plan, awaiting_reply_since=row.awaiting_reply_since
    )
    stats = sla_statistics(policy, clock, resolved_at=row.resolved_at, now=now)
    return SlaStatisticsInfo(
        first_response_minutes=stats.first_response_minutes,
        resolution_minutes=stats.resolution_minutes,
        hold_minutes=stats.hold_minutes,
        windows=[
            WindowOutcomeInfo(
                window=o.window.value,
                due=o.due,
                done_at=o.done_at,
                met=o.met,
                margin_minutes=o.margin_minutes,
            )
            for o in stats.outcomes
        ],
    )
