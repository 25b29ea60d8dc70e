"""TicketingService: the ticket lifecycle rules, one database transaction per call."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing import repository as repo
from ticketing.errors import (
    CustomerNotFound,
    InvalidInput,
    InvalidTransition,
    PartnerNotFound,
    TenantMismatch,
    TenantNotFound,
    TicketNotFound,
)
from ticketing.models import Customer, Partner, Tenant, Ticket, TicketMessage
from ticketing.numbering import parse_ticket_number
from ticketing.routing import MAX_ESCALATION_LEVEL, check_route, escalation_route
from ticketing.schemas import (
    DONE_STATUSES,
    Actor,
    Channel,
    CreateTicketRequest,
    EventKind,
    Priority,
    SlaSnapshot,
    TicketEventInfo,
    TicketInfo,
    TicketMessageInfo,
    TicketPage,
    TicketStatus,
    TicketType,
    normalize_priority,
    parse,
)
from ticketing.sla import (
    BusinessCalendar,
    Pause,
    SlaClock,
    SlaDeadlines,
    SlaPolicy,
    deadlines,
    next_threshold,
    validate_timezone,
)

log = structlog.get_logger(__name__)

TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.OPEN}
    ),
    TicketStatus.PENDING: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.OPEN}
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.OPEN}),
    TicketStatus.CLOSED: frozenset({TicketStatus.OPEN}),
}

BREACH_KINDS = ("first_response", "resolution")
THRESHOLD_KINDS = (
    "first_response_warning",
    "first_response",
    "resolution_warning",
    "resolution",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BreachOutcome:
    recorded: bool
    escalated: bool
    notification_ids: list[int]
    snapshot: SlaSnapshot


class TicketingService:
    """Every operation runs inside the caller's transaction; the caller commits or rolls back.

    `tenant_id` on reads and writes scopes the call: a ticket of another tenant is reported as
    not found, exactly like one that does not exist. `None` is the platform's own, unscoped view.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- tenants and customers -------------------------------------------------------------

    async def register_partner(
        self, partner_id: str, *, name: str, email: str | None = None
    ) -> None:
        existing = await repo.get_partner(self.session, partner_id)
        if existing is None:
            self.session.add(Partner(id=partner_id, name=name, email=email))
        else:
            existing.name, existing.email = name, email
        await self.session.flush()

    async def register_tenant(
        self,
        tenant_id: str,
        *,
        name: str | None = None,
        partner_id: str | None = None,
        timezone: str | None = None,
        support_email: str | None = None,
        sla_policy: SlaPolicy | None = None,
        calendar: BusinessCalendar | None = None,
    ) -> Tenant:
        """Create or update a tenant (idempotent on its id)."""
        if partner_id is not None and await repo.get_partner(self.session, partner_id) is None:
            raise PartnerNotFound(partner_id)
        if timezone is not None:
            try:
                validate_timezone(timezone)
            except ValueError as exc:
                raise InvalidInput("timezone", timezone, str(exc)) from None
            calendar = replace(calendar or BusinessCalendar.always(), timezone=timezone)
        tenant = await repo.get_tenant(self.session, tenant_id)
        if tenant is None:
            tenant = Tenant(id=tenant_id, name=name or tenant_id)
            self.session.add(tenant)
        elif name:
            tenant.name = name
        if partner_id is not None:
            tenant.partner_id = partner_id
        if support_email is not None:
            tenant.support_email = support_email
        if sla_policy is not None:
            tenant.sla_policy = sla_policy.to_dict()
        if calendar is not None:
            tenant.calendar = calendar.to_dict()
        await self.session.flush()
        return tenant

    async def upsert_customer(
        self,
        *,
        tenant_id: str,
        customer_id: str,
        email: str | None = None,
        name: str | None = None,
    ) -> Customer:
        """Create the customer under `tenant_id` or update its contact details.

        A customer id already owned by another tenant is a TenantMismatch, never a move.
        """
        if await repo.get_tenant(self.session, tenant_id) is None:
            raise TenantNotFound(tenant_id)
        # Insert-or-nothing, then lock: two onboardings of one new customer never collide.
        await repo.insert_customer_if_absent(
            self.session, customer_id=customer_id, tenant_id=tenant_id, email=email, name=name
        )
        customer = await repo.lock_customer(self.session, customer_id)
        if customer.tenant_id != tenant_id:
            raise TenantMismatch(tenant_id, customer.tenant_id)
        customer.email = email or customer.email
        customer.name = name or customer.name
        await self.session.flush()
        return customer

    # -- creation --------------------------------------------------------------------------

    async def create_ticket(
        self, request: CreateTicketRequest | dict[str, Any], *, now: datetime | None = None
    ) -> TicketInfo:
        """Create a ticket, or return the one already created for this idempotency key."""
        request = parse(CreateTicketRequest, request)
        request.check_rules()
        now = now or utcnow()
        ctx = await repo.customer_context(
            self.session, request.customer_id, request.idempotency_key
        )
        if ctx is None:
            if request.tenant_id is not None and (
                await repo.get_tenant(self.session, request.tenant_id) is None
            ):
                raise TenantNotFound(request.tenant_id)
            raise CustomerNotFound(request.customer_id)
        if request.tenant_id is not None and request.tenant_id != ctx.tenant_id:
            raise TenantMismatch(request.tenant_id, ctx.tenant_id)
        if ctx.existing_ticket_id is not None:
            return await self.get_ticket(ctx.existing_ticket_id)

        check_route(Actor.CUSTOMER, Actor.TENANT)
        policy = tenant_policy(ctx.sla_policy, ctx.calendar)
        clock = SlaClock(
            priority=request.priority.value,
            ticket_type=request.ticket_type.value,
            created_at=now,
            resolution_started_at=now,
            first_response_at=None,
            pauses=(),
            done=False,
        )
        due = deadlines(policy, clock, now)
        team = request.assigned_team
        row = await repo.insert_ticket(
            self.session,
            {
                "id": uuid.uuid4(),
                "tenant_id": ctx.tenant_id,
                "customer_id": ctx.customer_id,
                "title": request.title,
                "description": request.description,
                "origin_type": Actor.CUSTOMER.value,
                "target_type": Actor.TENANT.value,
                "priority": request.priority.value,
                "ticket_type": request.ticket_type.value,
                "channel": request.channel.value,
                "assigned_team": team,
                "service_address": request.service_address,
                "affected_services": request.affected_services,
                "device_serial_numbers": request.device_serial_numbers,
                "requester_email": request.requester_email,
                "idempotency_key": request.idempotency_key,
                "context": {"assigned_team": team, "routing": {"team": team}},
                "metadata": request.metadata,
                "first_response_due": due.first_response_due,
                "sla_due_date": due.resolution_due,
                "now": now,
                "author": request.requester_email or ctx.customer_email,
                "event_data": {
                    "channel": request.channel.value,
                    "priority": request.priority.value,
                },
                "recipient": request.requester_email or ctx.customer_email,
            },
        )
        if row is None:
            # Lost a race on the same idempotency key: the winner committed while we waited
            # for the counter lock. Hand our number back and return the winner's ticket.
            await repo.give_back_number(self.session)
            ctx = await repo.customer_context(
                self.session, request.customer_id, request.idempotency_key
            )
            assert ctx is not None and ctx.existing_ticket_id is not None
            return await self.get_ticket(ctx.existing_ticket_id)
        info = _info_from_row(row)
        log.info(
            "ticket_created",
            ticket_number=info.ticket_number,
            tenant_id=info.tenant_id,
            channel=info.channel.value,
        )
        return info

    # -- reads -----------------------------------------------------------------------------

    async def get_ticket(
        self, ticket: uuid.UUID | str, *, tenant_id: str | None = None
    ) -> TicketInfo:
        return ticket_info(await self._load(ticket, tenant_id=tenant_id))

    async def timeline(
        self, ticket: uuid.UUID | str, *, tenant_id: str | None = None
    ) -> tuple[list[TicketMessageInfo], list[TicketEventInfo]]:
        row = await self._load(ticket, tenant_id=tenant_id)
        messages = [
            TicketMessageInfo(
                author_actor=Actor(m.author_actor),
                author=m.author,
                body=m.body,
                is_internal=m.is_internal,
                created_at=m.created_at,
            )
            for m in await repo.messages(self.session, row.id)
        ]
        events = [
            TicketEventInfo(
                kind=EventKind(e.kind), actor=e.actor, data=e.data, created_at=e.created_at
            )
            for e in await repo.events(self.session, row.id)
        ]
        return messages, events

    async def list_tickets(
        self,
        *,
        tenant_id: str | None = None,
        status: TicketStatus | None = None,
        priority: Priority | None = None,
        ticket_type: str | None = None,
        assigned_to: str | None = None,
        assigned_team: str | None = None,
        breached: bool | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TicketPage:
        """Newest first, keyset-paginated on the ticket number."""
        if not 1 <= limit <= 500:
            raise InvalidInput("limit", limit, "must be between 1 and 500")
        _storable(
            tenant_id=tenant_id,
            ticket_type=ticket_type,
            assigned_to=assigned_to,
            assigned_team=assigned_team,
            search=search,
        )
        query: Select[tuple[Ticket]] = select(Ticket)
        if tenant_id is not None:
            query = query.where(Ticket.tenant_id == tenant_id)
        if status is not None:
            query = query.where(Ticket.status == TicketStatus(status).value)
        if priority is not None:
            query = query.where(Ticket.priority == Priority(priority).value)
        if ticket_type is not None:
            query = query.where(Ticket.ticket_type == ticket_type)
        if assigned_to is not None:
            query = query.where(Ticket.assigned_to == assigned_to)
        if assigned_team is not None:
            query = query.where(Ticket.assigned_team == assigned_team)
        if breached is not None:
            query = query.where(Ticket.sla_breached.is_(breached))
        if search:
            pattern = (
                "%" + search.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
            )
            query = query.where(
                or_(
                    Ticket.ticket_number.ilike(pattern),
                    Ticket.title.ilike(pattern),
                    cast(Ticket.customer_id, String).ilike(pattern),
                )
            )
        if cursor is not None:
            query = query.where(Ticket.number < _decode_cursor(cursor))
        rows = list(
            (
                await self.session.execute(query.order_by(Ticket.number.desc()).limit(limit + 1))
            ).scalars()
        )
        next_cursor = _encode_cursor(rows[limit - 1].number) if len(rows) > limit else None
        return TicketPage(items=[ticket_info(r) for r in rows[:limit]], next_cursor=next_cursor)

    # -- lifecycle -------------------------------------------------------------------------

    async def add_message(
        self,
        ticket: uuid.UUID | str,
        *,
        body: str,
        author_actor: Actor | str,
        author: str | None = None,
        is_internal: bool = False,
        tenant_id: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Add a reply or note; the assigned side's first public reply meets first response."""
        now = now or utcnow()
        actor = _actor(author_actor)
        _storable(body=body, author=author)
        if not body.strip():
            raise InvalidInput("body", body, "must not be empty")
        row = await self._load(ticket, tenant_id=tenant_id, for_update=True)
        self.session.add(
            TicketMessage(
                ticket_id=row.id,
                author_actor=actor.value,
                author=author,
                body=body,
                is_internal=is_internal,
                created_at=now,
            )
        )
        kind = EventKind.NOTE_ADDED if is_internal else EventKind.REPLIED
        await repo.add_event(
            self.session, row.id, kind.value, now, actor=author, data={"author_actor": actor.value}
        )
        answers = not is_internal and actor not in (Actor.CUSTOMER, Actor(row.origin_type))
        if answers and row.first_response_at is None:
            row.first_response_at = now
            await self._retarget(row, now)
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def change_status(
        self,
        ticket: uuid.UUID | str,
        status: TicketStatus | str,
        *,
        actor: str | None = None,
        tenant_id: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        now = now or utcnow()
        try:
            requested = TicketStatus(status)
        except ValueError:
            raise InvalidInput("status", status, "is not a ticket status") from None
        _storable(actor=actor)
        row = await self._load(ticket, tenant_id=tenant_id, for_update=True)
        current = TicketStatus(row.status)
        if requested not in TRANSITIONS[current]:
            raise InvalidTransition(current.value, requested.value)

        pauses = _pauses(row)
        if current is TicketStatus.PENDING:
            pauses = [p if p.end is not None else Pause(p.start, now) for p in pauses]
            await repo.add_event(self.session, row.id, EventKind.RESUMED.value, now, actor=actor)
        if requested is TicketStatus.PENDING:
            pauses.append(Pause(now))
            await repo.add_event(self.session, row.id, EventKind.PAUSED.value, now, actor=actor)
        row.sla_pauses = [_pause_json(p) for p in pauses]

        if requested is TicketStatus.RESOLVED:
            row.resolved_at = now
            row.resolution_time_minutes = int((now - row.created_at).total_seconds() // 60)
        elif requested is TicketStatus.CLOSED:
            row.closed_at = now
            row.resolved_at = row.resolved_at or now
            row.resolution_time_minutes = int(
                (row.resolved_at - row.created_at).total_seconds() // 60
            )
        elif requested is TicketStatus.OPEN and current in DONE_STATUSES:
            # A reopen gets a fresh resolution window at the level it had reached.
            row.resolved_at = row.closed_at = None
            row.resolution_time_minutes = None
            row.resolution_window_start = now
        row.status = requested.value
        await repo.add_event(
            self.session,
            row.id,
            EventKind.STATUS_CHANGED.value,
            now,
            actor=actor,
            data={"from": current.value, "to": requested.value},
        )
        await self._retarget(row, now)
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def assign(
        self,
        ticket: uuid.UUID | str,
        *,
        assigned_to: str | None,
        assigned_team: str | None = None,
        actor: str | None = None,
        tenant_id: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        now = now or utcnow()
        _storable(assigned_to=assigned_to, assigned_team=assigned_team, actor=actor)
        row = await self._load(ticket, tenant_id=tenant_id, for_update=True)
        row.assigned_to = assigned_to
        if assigned_team is not None:
            row.assigned_team = assigned_team
            row.context = {
                **row.context,
                "assigned_team": assigned_team,
                "routing": {"team": assigned_team},
            }
        await repo.add_event(
            self.session,
            row.id,
            EventKind.ASSIGNED.value,
            now,
            actor=actor,
            data={"assigned_to": assigned_to, "assigned_team": row.assigned_team},
        )
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def change_priority(
        self,
        ticket: uuid.UUID | str,
        priority: Priority | str,
        *,
        actor: str | None = None,
        tenant_id: str | None = None,
        now: datetime | None = None,
    ) -> TicketInfo:
        """Re-target the due dates; elapsed and paused time are kept."""
        now = now or utcnow()
        try:
            new = Priority(normalize_priority(priority))
        except ValueError:
            raise InvalidInput("priority", priority, "is not low, normal, high or urgent") from None
        _storable(actor=actor)
        row = await self._load(ticket, tenant_id=tenant_id, for_update=True)
        old, row.priority = row.priority, new.value
        await repo.add_event(
            self.session,
            row.id,
            EventKind.PRIORITY_CHANGED.value,
            now,
            actor=actor,
            data={"from": old, "to": new.value},
        )
        await self._retarget(row, now)
        row.updated_at = now
        await self.session.flush()
        return ticket_info(row)

    async def escalate(
        self,
        ticket: uuid.UUID | str,
        *,
        from_level: int | None = None,
        actor: str | None = None,
        tenant_id: str | None = None,
        now: datetime | None = None,
    ) -> tuple[TicketInfo, bool]:
        """Move the ticket one level up its route; idempotent per (ticket, from_level).

        Returns the ticket and whether this call escalated it. A ticket already past
        `from_level`, done, or at the top level is returned unchanged.
        """
        now = now or utcnow()
        _storable(actor=actor)
        row = await self._sla_row(ticket, tenant_id=tenant_id, for_update=True)
        escalated = await self._escalate(
            row, _row_policy(row), from_level=from_level, actor=actor, now=now
        )
        return ticket_info(await self._load(row.id, tenant_id=None)), escalated

    async def _escalate(
        self,
        row: repo.SlaRow,
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
        due = self._deadlines(moved, now, policy)
        data = {"from_level": level, "to_level": level + 1, "target_type": target.value}
        escalated = await repo.apply_escalation(
            self.session,
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
            dedupe_key=f"escalated:{row.id}:{level + 1}:{now.isoformat()}",
            recipient=_recipient(moved),
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

    async def record_breach(
        self,
        ticket: uuid.UUID | str,
        kind: str,
        *,
        now: datetime | None = None,
        tenant_id: str | None = None,
    ) -> BreachOutcome:
        """Record a warning or breach if it is really due; a resolution breach also escalates.

        Idempotent per (ticket, kind, window): the watcher may call it again after a retry or
        replay and nothing is recorded, escalated or notified twice. Every watcher threshold
        runs this, so it is three statements: read (row locked), write, re-read after an
        escalation.
        """
        if kind not in THRESHOLD_KINDS:
            raise InvalidInput("kind", kind, f"must be one of {', '.join(THRESHOLD_KINDS)}")
        now = now or utcnow()
        row = await self._sla_row(ticket, tenant_id=tenant_id, for_update=True)
        # Parsed once per call: the tenant's policy is a few hundred microseconds to build.
        policy = _row_policy(row)
        due = self._deadlines(row, now, policy)
        at = {
            "first_response_warning": due.first_response_warning_at,
            "first_response": due.first_response_due,
            "resolution_warning": due.resolution_warning_at,
            "resolution": due.resolution_due,
        }[kind]
        still_relevant = (
            at is not None
            and at <= now
            and not due.paused
            and TicketStatus(row.status) not in DONE_STATUSES
            and not (kind.startswith("first_response") and due.first_response_met)
        )
        if not still_relevant or at is None:
            return BreachOutcome(False, False, [], self._snapshot(row, now, policy))
        is_breach = kind in BREACH_KINDS
        payload = {"kind": kind, "due_at": at.isoformat(), "level": row.escalation_level}
        recorded, notification_ids = await repo.record_threshold(
            self.session,
            ticket_id=row.id,
            tenant_id=row.tenant_id,
            kind=kind,
            window_start=(
                row.created_at if kind.startswith("first_response") else row.resolution_window_start
            ),
            level=row.escalation_level,
            due_at=at,
            now=now,
            is_breach=is_breach,
            event_kind=(EventKind.BREACHED if is_breach else EventKind.SLA_WARNING).value,
            note_kind="sla_breach" if is_breach else "sla_warning",
            dedupe_key=f"{kind}:{row.id}:{at.isoformat()}",
            recipient=_recipient(row),
            data=payload,
        )
        escalated = False
        if recorded:
            log.warning(
                "sla_" + ("breach" if is_breach else "warning"),
                kind=kind,
                ticket_number=row.ticket_number,
                tenant_id=row.tenant_id,
                late_seconds=(now - at).total_seconds(),
            )
            row = replace(row, recorded=row.recorded | {kind})
            if kind == "resolution":
                escalated = await self._escalate(
                    row, policy, from_level=row.escalation_level, actor=None, now=now
                )
        if escalated:
            row = await self._sla_row(row.id, tenant_id=None)
        return BreachOutcome(
            recorded, escalated, notification_ids, self._snapshot(row, now, policy)
        )

    async def sla_snapshot(
        self, ticket: uuid.UUID | str, *, now: datetime | None = None, tenant_id: str | None = None
    ) -> SlaSnapshot:
        row = await self._sla_row(ticket, tenant_id=tenant_id)
        return self._snapshot(row, now or utcnow(), _row_policy(row))

    def _snapshot(self, row: repo.SlaRow, now: datetime, policy: SlaPolicy) -> SlaSnapshot:
        due = self._deadlines(row, now, policy)
        warned = frozenset(
            k.removesuffix("_warning") for k in row.recorded if k.endswith("_warning")
        )
        breached = frozenset(k for k in row.recorded if k in BREACH_KINDS)
        upcoming = next_threshold(due, warned=warned, breached=breached)
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
            next_kind=_threshold_name(next_kind),
            next_at=next_at,
        )

    async def start_delivery(self, ticket: uuid.UUID) -> list[int]:
        """Count a delivery attempt on every unsent notification of the ticket; their ids.

        Committed before the mail goes out, so a resend after a crash shows as attempts > 1.
        """
        return await repo.count_ticket_attempts(self.session, ticket)

    # -- helpers ---------------------------------------------------------------------------

    async def _load(
        self, ticket: uuid.UUID | str, *, tenant_id: str | None, for_update: bool = False
    ) -> Ticket:
        _storable(tenant_id=tenant_id)
        ref = _ticket_ref(ticket)
        row = await repo.find_ticket(self.session, ref, tenant_id=tenant_id, for_update=for_update)
        if row is None:
            raise TicketNotFound(ticket if isinstance(ticket, str) else str(ticket))
        return row

    async def _sla_row(
        self, ticket: uuid.UUID | str, *, tenant_id: str | None, for_update: bool = False
    ) -> repo.SlaRow:
        _storable(tenant_id=tenant_id)
        row = await repo.sla_row(
            self.session, _ticket_ref(ticket), tenant_id=tenant_id, for_update=for_update
        )
        if row is None:
            raise TicketNotFound(ticket if isinstance(ticket, str) else str(ticket))
        return row

    async def _policy(self, row: Ticket) -> SlaPolicy:
        tenant = await repo.get_tenant(self.session, row.tenant_id)
        return tenant_policy(
            tenant.sla_policy if tenant else None, tenant.calendar if tenant else None
        )

    def _deadlines(
        self, row: Ticket | repo.SlaRow, now: datetime, policy: SlaPolicy
    ) -> SlaDeadlines:
        clock = SlaClock(
            priority=row.priority,
            ticket_type=row.ticket_type,
            created_at=row.created_at,
            resolution_started_at=row.resolution_window_start,
            first_response_at=row.first_response_at,
            pauses=tuple(_pauses(row)),
            done=TicketStatus(row.status) in DONE_STATUSES,
        )
        return deadlines(policy, clock, now)

    async def _retarget(self, row: Ticket, now: datetime) -> None:
        due = self._deadlines(row, now, await self._policy(row))
        row.first_response_due = due.first_response_due
        row.sla_due_date = due.resolution_due


def tenant_policy(policy: dict[str, Any] | None, calendar: dict[str, Any] | None) -> SlaPolicy:
    resolved = SlaPolicy.from_dict(policy)
    if calendar is not None:
        resolved = replace(resolved, calendar=BusinessCalendar.from_dict(calendar))
    return resolved


def _row_policy(row: repo.SlaRow) -> SlaPolicy:
    return tenant_policy(row.sla_policy, row.calendar)


def _recipient(row: repo.SlaRow) -> str | None:
    """Who hears about the ticket at its level: the tenant's support desk or its partner."""
    if row.target_type == Actor.PARTNER.value and row.partner_id:
        return row.partner_email
    if row.target_type == Actor.TENANT.value:
        return row.support_email
    return None


def ticket_info(row: Ticket) -> TicketInfo:
    return TicketInfo(
        ticket_id=row.id,
        ticket_number=row.ticket_number,
        title=row.title,
        description=row.description,
        customer_id=row.customer_id,
        tenant_id=row.tenant_id,
        origin_type=Actor(row.origin_type),
        target_type=Actor(row.target_type),
        priority=Priority(row.priority),
        ticket_type=TicketType(row.ticket_type),
        status=TicketStatus(row.status),
        assigned_team=row.assigned_team,
        service_address=row.service_address,
        affected_services=list(row.affected_services),
        device_serial_numbers=list(row.device_serial_numbers),
        channel=Channel(row.channel),
        first_response_due=row.first_response_due,
        sla_due_date=row.sla_due_date,
        sla_breached=row.sla_breached,
        escalation_level=row.escalation_level,
        context=dict(row.context),
        created_at=row.created_at,
        assigned_to=row.assigned_to,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        metadata=dict(row.metadata_),
    )


def _info_from_row(values: dict[str, Any]) -> TicketInfo:
    return TicketInfo.model_validate({**values, "ticket_id": values["id"]}, from_attributes=False)


def _ticket_ref(ticket: uuid.UUID | str) -> uuid.UUID | int:
    if isinstance(ticket, uuid.UUID):
        return ticket
    number = parse_ticket_number(ticket)
    if number is not None:
        if number > MAX_TICKET_NUMBER:
            raise TicketNotFound(ticket)  # no counter ever gets there
        return number
    try:
        return uuid.UUID(ticket)
    except ValueError:
        raise InvalidInput(
            "ticket", ticket, "is neither a ticket number (TKT-000123) nor a UUID"
        ) from None


MAX_TICKET_NUMBER = 2**63 - 1


def _storable(**fields: str | None) -> None:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates) as a typed error on its field."""
    for field, value in fields.items():
        if value is None:
            continue
        if "\x00" in value:
            raise InvalidInput(field, value, "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(field, value, "is not valid UTF-8 text") from None


def _actor(value: Actor | str) -> Actor:
    try:
        return Actor(value)
    except ValueError:
        raise InvalidInput(
            "author_actor", value, "must be customer, tenant, partner or platform"
        ) from None


def _pauses(row: Ticket | repo.SlaRow) -> list[Pause]:
    return [
        Pause(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
        for start, end in row.sla_pauses
    ]


def _pause_json(pause: Pause) -> list[str | None]:
    return [pause.start.isoformat(), pause.end.isoformat() if pause.end else None]


def _threshold_name(kind: str | None) -> str | None:
    # sla.next_threshold names breaches "<window>_breach"; the service records them as "<window>".
    return kind.removesuffix("_breach") if kind else None


def _encode_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(str(number).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor", cursor, "is not a cursor returned by list_tickets") from None
