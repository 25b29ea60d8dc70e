"""A stored ticket's SLA clock: what the engine reads from a row, and its due dates.

Below both the SLA service and its reports, which each build clocks from rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ticketing.core.enums import DONE_STATUSES, TicketStatus
from ticketing.sla.deadlines import SlaClock, SlaDeadlines, deadlines, pauses_of
from ticketing.sla.policy import SlaPolicy


class ClockFields(Protocol):
    """What a due-date computation reads from a ticket (its ORM row or the SLA path's row)."""

    @property
    def priority(self) -> str: ...
    @property
    def ticket_type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def resolution_window_start(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def sla_pauses(self) -> list[Any]: ...
    @property
    def channel(self) -> str: ...


def deadlines_for(
    row: ClockFields,
    now: datetime,
    policy: SlaPolicy,
    *,
    customer_plan: str | None = None,
    awaiting_reply_since: datetime | None = None,
    keep_in_loop_since: datetime | None = None,
) -> SlaDeadlines:
    """The ticket's due dates and warning times as of `now`."""
    clock = clock_of(
        row,
        customer_plan=customer_plan,
        awaiting_reply_since=awaiting_reply_since,
        keep_in_loop_since=keep_in_loop_since,
    )
    return deadlines(policy, clock, now)


def clock_of(
    row: ClockFields,
    *,
    customer_plan: str | None,
    awaiting_reply_since: datetime | None,
    keep_in_loop_since: datetime | None = None,
) -> SlaClock:
    """The SLA clock of a stored ticket."""
    return SlaClock(
        priority=row.priority,
        ticket_type=row.ticket_type,
        created_at=row.created_at,
        resolution_started_at=row.resolution_window_start,
        first_response_at=row.first_response_at,
        pauses=tuple(pauses_of(row.sla_pauses)),
        done=TicketStatus(row.status) in DONE_STATUSES,
        awaiting_reply_since=awaiting_reply_since,
        customer_plan=customer_plan,
        channel=row.channel,
        keep_in_loop_since=keep_in_loop_since,
    )
