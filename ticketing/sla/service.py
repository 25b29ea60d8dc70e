"""SLA thresholds and escalation: the rules the watcher runs, inside the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.auth.scope import ticket_scope
from ticketing.core import outbox_keys
from ticketing.core.enums import DONE_STATUSES, Actor, EventKind, NoticeKind, Priority, TicketStatus
from ticketing.core.errors import Forbidden, InvalidInput, TicketNotFound
from ticketing.core.fields import check_storable
from ticketing.db.rls import bind_scope
from ticketing.sla import (
    BusinessCalendar,
    SlaDeadlines,
    SlaPolicy,
    SlaWindow,
    ThresholdKind,
    next_threshold,
)
from ticketing.sla import repository as repo
from ticketing.sla.bounds import CallerBounds, check_clock
from ticketing.sla.clocks import deadlines_for
from ticketing.sla.reports import statistics_of
from ticketing.sla.repository import SlaRow
from ticketing.sla.schemas import SlaSnapshot, SlaStatisticsInfo
from ticketing.sla.stored import policy_from_dict
from ticketing.tickets.numbering import ticket_ref
from ticketing.tickets.routing import MAX_ESCALATION_LEVEL, escalation_route

log = structlog.get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BreachOutcome:
    recorded: bool
    escalated: bool
    notification_ids: list[int]
    snapshot: SlaSnapshot


class SlaService:
    """Warnings, breaches and escalations of tickets a Principal may see (the watcher's is
    scoped to its one ticket)."""

    def __init__(
        self, session: AsyncSession, principal: Principal, *, bounds: CallerBounds | None = None
    ) -> None:
        self.session = session
        self.principal = require_principal(principal, "SlaService")
        bind_scope(session, self.principal)
        self.bounds = bounds or CallerBounds(max_skew=None)

    async def _check_now(self, now: datetime | None) -> None:
        await check_clock(self.session, now, self.bounds.max_skew)

    def _require_system_or_platform(self, action: str) -> None:
        if self.principal.role not in (Role.SYSTEM, Role.PLATFORM):
            raise Forbidden(action)

    async def escalate(
        self,
        ticket: uuid.UUID | str,
        *,
        from_level: int | None = None,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> tuple[SlaRow, bool]:
        """Move the ticket one level up its route; idempotent per (ticket, from_level).

        Returns the ticket and whether this call escalated it. A ticket already past
        `from_level`, done, or at the top level is returned unchanged.
        """
        if self.principal.is_customer:
            raise Forbidden("escalate tickets")
        await self._check_now(now)
        now = now or utcnow()
        check_storable(actor=actor)
        row = await self._sla_row(ticket, for_update=True)
        escalated = await self._escalate(
            row, row_policy(row), from_level=from_level, actor=actor, now=now
        )
        return await self._sla_row(row.id), escalated

    async def _escalate(
        self,
        row: SlaRow,
        policy: SlaPolicy,
        *,
        from_level: int | None,
        actor: str | None,
        now: datetime,
    ) -> bool:
        level = row.escalation_level
        if (
            (from_level is not None and from_level != level)
            or TicketStatus(row.status) in DONE_STATUSES
            or level >= MAX_ESCALATION_LEVEL
        ):
            return False
        origin, target = escalation_route(level, tenant_has_partner=bool(row.partner_id))
        # The new level starts a fresh resolution window; first response keeps its own.
        moved = replace(
            row, target_type=target.value, escalation_level=level + 1, resolution_window_start=now
        )
        due = row_deadlines(moved, now, policy)
        data = {"from_level": level, "to_level": level + 1, "target_type": target.value}
        escalated = await repo.apply_escalation(
            self.session,
            repo.EscalationMove(
                ticket_id=row.id,
                from_level=level,
                to_level=level + 1,
                origin_type=origin.value,
                target_type=target.value,
                now=now,
                first_response_due=due.first_response_due,
                sla_due_date=due.resolution_due,
                actor=actor,
                data=data,
                dedupe_key=outbox_keys.escalated(row.id, level + 1, now),
                recipient=level_recipient(moved),
            ),
        )
        if escalated:
            log.info(
                "ticket_escalated",
                ticket_number=row.ticket_number,
                tenant_id=row.tenant_id,
                level=level + 1,
                target=target.value,
            )
        return escalated

    async def record_threshold(
        self,
        ticket: uuid.UUID | str,
        kind: ThresholdKind | str,
        *,
        now: datetime | None = None,
    ) -> BreachOutcome:
        """Record a warning or breach if it is really due; a resolution breach also escalates.

        Idempotent per (ticket, kind, window): the watcher may call it again after a retry or
        replay and nothing is recorded, escalated or notified twice. Every watcher threshold
        runs this, so it is three statements: read (row locked), write, re-read after an
        escalation.
        """
        self._require_system_or_platform("record SLA thresholds")
        try:
            kind = kind if isinstance(kind, ThresholdKind) else ThresholdKind.parse(kind)
        except ValueError as error:
            raise InvalidInput("kind", kind, str(error)) from None
        await self._check_now(now)
        now = now or utcnow()
        row = await self._sla_row(ticket, for_update=True)
        # Parsed once per call: the tenant's policy is a few hundred microseconds to build.
        policy = row_policy(row)
        due = row_deadlines(row, now, policy)
        at = due.at(kind)
        still_relevant = (
            at is not None
            and at <= now
            and not due.paused
            and TicketStatus(row.status) not in DONE_STATUSES
            and not (kind.window is SlaWindow.FIRST_RESPONSE and due.first_response_met)
        )
        if not still_relevant or at is None:
            return await self._settled(row, kind, now, policy)
        recorded, notification_ids = await repo.record_threshold(
            self.session, threshold_record(row, kind, at, now)
        )
        if not recorded:
            return await self._settled(row, kind, now, policy)
        log.warning(
            "sla_" + ("breach" if kind.is_breach else "warning"),
            kind=str(kind),
            ticket_number=row.ticket_number,
            tenant_id=row.tenant_id,
            late_seconds=(now - at).total_seconds(),
        )
        row = replace(row, recorded=row.recorded | {str(kind)})
        escalated = False
        if kind == ThresholdKind.breach(SlaWindow.RESOLUTION):
            escalated = await self._escalate(
                row, policy, from_level=row.escalation_level, actor=None, now=now
            )
        if escalated:
            row = await self._sla_row(row.id)
        return BreachOutcome(True, escalated, notification_ids, snapshot_of(row, now, policy))

    async def _settled(
        self, row: SlaRow, kind: ThresholdKind, now: datetime, policy: SlaPolicy
    ) -> BreachOutcome:
        """Nothing new to record: a retry of a call that did record says so again, so the
        watcher's result keeps a threshold whose first attempt committed but never returned."""
        recorded, escalated = await repo.recorded_by_call(self.session, row.id, str(kind), now)
        return BreachOutcome(recorded, escalated, [], snapshot_of(row, now, policy))

    async def statistics(
        self, ticket: uuid.UUID | str, *, now: datetime | None = None
    ) -> SlaStatisticsInfo:
        """First response and resolution in business minutes, each window met or missed."""
        row = await self._sla_row(ticket)
        return statistics_of(row, now or utcnow(), row_policy(row))

    async def sla_snapshot(
        self, ticket: uuid.UUID | str, *, now: datetime | None = None
    ) -> SlaSnapshot:
        await self._check_now(now)
        row = await self._sla_row(ticket)
        return snapshot_of(row, now or utcnow(), row_policy(row))

    async def _sla_row(self, ticket: uuid.UUID | str, *, for_update: bool = False) -> SlaRow:
        p = self.principal
        row = await repo.sla_row(
            self.session,
            ticket_ref(ticket),
            tenant_id=None if p.sees_everything or p.tenant_id is None else p.tenant_id,
            for_update=for_update,
        )
        bound_to = self.bounds.ticket_number
        if row is None or not _may_see(p, row) or bound_to not in (None, row.ticket_number):
            raise TicketNotFound(ticket if isinstance(ticket, str) else str(ticket))
        return row


def _may_see(p: Principal, row: SlaRow) -> bool:
    """The tickets' one scope rule over an SLA row; customers read their ticket's due dates
    from the ticket itself, never through the watcher's view."""
    if p.role is Role.CUSTOMER:
        return False
    return ticket_scope(p).admits(
        ticket_id=row.id,
        tenant_id=row.tenant_id,
        partner_id=row.partner_id,
        escalation_level=row.escalation_level,
    )


def window_start(row: SlaRow, window: SlaWindow) -> datetime:
    """Where the ticket's current `window` began: what makes a threshold once per window."""
    if window is SlaWindow.FIRST_RESPONSE:
        return row.created_at
    if window is SlaWindow.NEXT_REPLY and row.awaiting_reply_since is not None:
        return row.awaiting_reply_since
    if window is SlaWindow.KEEP_IN_LOOP:
        return row.keep_in_loop_since
    return row.resolution_window_start


def threshold_record(
    row: SlaRow, kind: ThresholdKind, at: datetime, now: datetime
) -> repo.ThresholdRecord:
    """The warning or breach `kind` of the ticket's current window, due at `at`."""
    is_breach = kind.is_breach
    payload = {"kind": str(kind), "due_at": at.isoformat(), "level": row.escalation_level}
    return repo.ThresholdRecord(
        ticket_id=row.id,
        tenant_id=row.tenant_id,
        kind=str(kind),
        window_start=window_start(row, kind.window),
        level=row.escalation_level,
        due_at=at,
        now=now,
        is_breach=is_breach,
        event_kind=(EventKind.BREACHED if is_breach else EventKind.SLA_WARNING).value,
        note_kind=(NoticeKind.SLA_BREACH if is_breach else NoticeKind.SLA_WARNING).value,
        dedupe_key=(
            outbox_keys.keep_in_loop(kind, row.id, row.keep_in_loop_since)
            if kind.window is SlaWindow.KEEP_IN_LOOP
            else outbox_keys.threshold(kind, row.id, at)
        ),
        recipient=level_recipient(row),
        data=payload,
    )


def snapshot_of(row: SlaRow, now: datetime, policy: SlaPolicy) -> SlaSnapshot:
    """What the watcher needs to decide when to wake next."""
    due = row_deadlines(row, now, policy)
    fired = [ThresholdKind.parse(k) for k in row.recorded]
    warned = {k.window.value for k in fired if not k.is_breach}
    breached = {k.window.value for k in fired if k.is_breach}
    upcoming = next_threshold(due, fired=fired)
    next_kind, next_at = upcoming if upcoming else (None, None)
    return SlaSnapshot(
        ticket_id=row.id,
        ticket_number=row.ticket_number,
        tenant_id=row.tenant_id,
        status=TicketStatus(row.status),
        priority=Priority(row.priority),
        phase=due.phase.value,
        paused=due.paused,
        first_response_met=due.first_response_met,
        first_response_due=due.first_response_due,
        first_response_warning_at=due.first_response_warning_at,
        sla_due_date=due.resolution_due,
        resolution_warning_at=due.resolution_warning_at,
        resolution_window_start=row.resolution_window_start,
        breached=sorted(breached),
        warned=sorted(warned),
        escalation_level=row.escalation_level,
        next_kind=next_kind,
        next_at=next_at,
        next_reply_due=due.next_reply_due,
    )


def tenant_policy(policy: dict[str, Any] | None, calendar: dict[str, Any] | None) -> SlaPolicy:
    """The tenant's stored policy with its calendar; the built-in defaults where unset."""
    resolved = policy_from_dict(policy)
    if calendar is not None:
        resolved = replace(resolved, calendar=BusinessCalendar.from_dict(calendar))
    return resolved


def row_policy(row: SlaRow) -> SlaPolicy:
    return tenant_policy(row.sla_policy, row.calendar)


def row_deadlines(row: SlaRow, now: datetime, policy: SlaPolicy) -> SlaDeadlines:
    """Every window of the SLA path's row, next reply and the customer's plan included."""
    return deadlines_for(
        row,
        now,
        policy,
        customer_plan=row.customer_plan,
        awaiting_reply_since=row.awaiting_reply_since,
        keep_in_loop_since=row.keep_in_loop_since,
    )


def level_recipient(row: SlaRow) -> str | None:
    """Who hears about the ticket at its level: the tenant's support desk or its partner."""
    if row.target_type == Actor.PARTNER.value and row.partner_id:
        return row.partner_email
    if row.target_type == Actor.TENANT.value:
        return row.support_email
    return None
