"""The SLA side of a ticket change: pauses by status, breaches found at the commit, due dates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.enums import DONE_STATUSES, EventKind, TicketStatus
from ticketing.sla import Pause, SlaPolicy, SlaWindow
from ticketing.sla import repository as repo
from ticketing.sla.clocks import ClockFields, deadlines_for
from ticketing.sla.deadlines import pause_json, pauses_of
from ticketing.sla.service import (
    row_deadlines,
    row_policy,
    tenant_policy,
    threshold_record,
)
from ticketing.tenants import repository as tenants_repo

# A support-side answer settles these windows (and restarts keep-in-loop); a resolve or close
# settles every window.
ANSWERED_WINDOWS = frozenset(
    {SlaWindow.FIRST_RESPONSE, SlaWindow.NEXT_REPLY, SlaWindow.KEEP_IN_LOOP}
)
# A public message of a support side the ticket is not routed to only keeps the customer told.
TOLD_WINDOWS = frozenset({SlaWindow.KEEP_IN_LOOP})
ALL_WINDOWS = frozenset(SlaWindow)


class StoredClock(ClockFields, Protocol):
    """A ticket row whose pauses and due dates a change rewrites (the ORM ticket)."""

    first_response_due: datetime | None
    sla_due_date: datetime | None

    @property
    def customer_id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...

    @property
    def sla_pauses(self) -> list[Any]: ...
    @sla_pauses.setter
    def sla_pauses(self, value: list[Any]) -> None: ...


async def policy_of(session: AsyncSession, tenant_id: str) -> SlaPolicy:
    """The tenant's policy with its calendar; the built-in defaults where unset."""
    tenant = await tenants_repo.get_tenant(session, tenant_id)
    if tenant is None:
        return tenant_policy(None, None)
    return tenant_policy(tenant.sla_policy, tenant.calendar)


def pausing_statuses(policy: SlaPolicy) -> frozenset[TicketStatus]:
    """Statuses that stop the clocks: pending always, the policy's others too."""
    return frozenset(TicketStatus(s) for s in policy.pause_statuses) | {TicketStatus.PENDING}


def move_pauses(
    row: StoredClock,
    requested: TicketStatus,
    policy: SlaPolicy,
    now: datetime,
    *,
    held: bool = False,
) -> EventKind | None:
    """Open a pause when the ticket enters a pausing status, close it when it leaves one.
    `held`: linked to an active outage, so the clocks stay stopped whatever the status.

    Decided by the stored pauses, not the old status, so tickets resolved before resolved
    paused (no open pause) reopen without a pause to close.
    """
    pauses = pauses_of(row.sla_pauses)
    paused = any(p.end is None for p in pauses)
    stops = held or requested in pausing_statuses(policy)
    if stops and not paused:
        pauses.append(Pause(now))
        change = EventKind.PAUSED
    elif paused and not stops:
        pauses = [p if p.end is not None else Pause(p.start, now) for p in pauses]
        change = EventKind.RESUMED
    else:
        return None
    row.sla_pauses = [pause_json(p) for p in pauses]
    return change


async def plan_for(
    session: AsyncSession, policy: SlaPolicy, tenant_id: str, customer_id: str
) -> str | None:
    """The customer's plan, read only when a rule of the policy asks for one."""
    if not any(rule.customer_plans for rule in policy.rules):
        return None
    return await repo.customer_plan(session, tenant_id, customer_id)


async def store_due_dates(
    session: AsyncSession, row: StoredClock, now: datetime, policy: SlaPolicy | None = None
) -> None:
    """Keep the ticket's stored due dates equal to what the watcher computes."""
    policy = policy or await policy_of(session, row.tenant_id)
    plan = await plan_for(session, policy, row.tenant_id, row.customer_id)
    due = deadlines_for(row, now, policy, customer_plan=plan)
    row.first_response_due = due.first_response_due
    row.sla_due_date = due.resolution_due


async def record_missed_breaches(
    session: AsyncSession, ticket_id: uuid.UUID, windows: frozenset[SlaWindow], now: datetime
) -> bool:
    """Record every breach of `windows` already due and not yet recorded; whether any was.

    Called before a change that settles those windows (an answer, a resolve, a close): a
    deadline that passed is a breach whenever it is found, not only when the watcher wakes in
    time. Idempotent per (ticket, window, level) like the watcher's own records.
    """
    row = await repo.sla_row(session, ticket_id, tenant_id=None, for_update=False)
    if row is None or TicketStatus(row.status) in DONE_STATUSES:
        return False
    due = row_deadlines(row, now, row_policy(row))
    found = False
    for threshold in due.thresholds:
        kind = threshold.kind
        settled = kind.window is SlaWindow.FIRST_RESPONSE and due.first_response_met
        if (
            not kind.is_breach
            or kind.window not in windows
            or threshold.at > now
            or settled
            or str(kind) in row.recorded
        ):
            continue
        recorded, _ = await repo.record_threshold(
            session, threshold_record(row, kind, threshold.at, now)
        )
        found = found or recorded
    return found
