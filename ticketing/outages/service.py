"""Outage rules: declare, post an update, resolve, read; inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.enums import Channel, Priority, TicketStatus, TicketType
from ticketing.core.errors import Forbidden, InvalidInput, TenantNotFound, TicketNotFound
from ticketing.core.fields import check_storable, parse
from ticketing.db.rls import bind_scope
from ticketing.outages import repository as repo
from ticketing.outages.models import Outage, OutageUpdate
from ticketing.outages.schemas import (
    DeclareOutage,
    OutageDeclared,
    OutageDetail,
    OutagePage,
    OutageStatus,
    OutageSummary,
    OutageUpdateInfo,
    UpdateKind,
)
from ticketing.sla.service import utcnow
from ticketing.tenants import repository as tenants_repo
from ticketing.tickets.info import decode_cursor, encode_cursor
from ticketing.tickets.numbering import format_ticket_number, parse_ticket_number
from ticketing.tickets.schemas import CreateTicketRequest, TicketInfo
from ticketing.tickets.service import TicketService


def own_customer_id(tenant_id: str) -> str:
    """The tenant's own customer record that carries its outages' parent tickets."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ticketing:outages:{tenant_id}"))


def outage_number(value: str) -> int:
    number = parse_ticket_number(value)
    if number is None:
        raise InvalidInput("number", value, "is not a ticket number (TKT-000123)")
    return number


class OutageService:
    """Outages as one Principal may see and change them: a tenant's staff their own tenant's,
    the platform every tenant's; another tenant's outage is reported like a missing one."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "OutageService")
        if principal.is_customer or principal.role is Role.PARTNER_AGENT:
            raise Forbidden("manage outages")
        bind_scope(session, self.principal)

    def _tenant(self, tenant_id: str | None) -> str:
        p = self.principal
        tenant = tenant_id or p.tenant_id
        if not tenant:
            raise InvalidInput("tenant_id", None, "is required for a platform caller")
        if not p.sees_everything and p.tenant_id != tenant:
            raise TenantNotFound(tenant)
        return tenant

    def _actor(self) -> Principal:
        """Who speaks on the tickets: the tenant's side, named after the caller."""
        return self.principal

    async def load(self, number: str, *, for_update: bool = False) -> Outage:
        tenant = None if self.principal.sees_everything else self.principal.tenant_id
        row = await repo.get_outage(
            self.session, tenant, outage_number(number), for_update=for_update
        )
        if row is None:
            raise TicketNotFound(number)
        return row

    async def declare(
        self, tenant_id: str | None, request: DeclareOutage | dict[str, object], now: datetime
    ) -> tuple[OutageDeclared, bool]:
        """Open the parent ticket and the outage; with a known key, the outage declared before.
        Returns the outage and whether it is new."""
        request = parse(DeclareOutage, request)
        tenant = self._tenant(tenant_id)
        if request.eta is not None and request.eta <= now:
            raise InvalidInput("eta", request.eta.isoformat(), "must be in the future")
        check_storable(title=request.title, description=request.description)
        if request.idempotency_key:
            found = await repo.outage_by_declare_key(self.session, tenant, request.idempotency_key)
            if found is not None:
                return await self._declared(found), False
        if await tenants_repo.get_tenant(self.session, tenant) is None:
            raise TenantNotFound(tenant)
        own = own_customer_id(tenant)
        await tenants_repo.insert_customer_if_absent(
            self.session, customer_id=own, tenant_id=tenant, email=None, name="Network operations"
        )
        tickets = TicketService(self.session, Principal.integration(tenant, self.principal.name))
        parent = await tickets.create_ticket(
            CreateTicketRequest(
                title=request.title,
                description=request.description or request.title,
                customer_id=own,
                tenant_id=tenant,
                priority=Priority.URGENT,
                ticket_type=TicketType.OUTAGE_REPORT,
                channel=Channel.API,
            ),
            now=now,
        )
        await repo.drop_created_notice(self.session, parent.ticket_id)
        await repo.pause_parent(self.session, parent.ticket_id, now)
        number = outage_number(parent.ticket_number)
        outage = Outage(
            ticket_id=parent.ticket_id,
            tenant_id=tenant,
            number=number,
            title=request.title,
            tags=sorted(set(request.tags)),
            eta=request.eta,
            notify=request.notify,
            status=OutageStatus.ACTIVE,
            seq=1,
            sent_seq=0,
            cursor=None,
            declare_key=request.idempotency_key,
            created_at=now,
        )
        self.session.add(outage)
        self.session.add(
            OutageUpdate(
                outage_id=parent.ticket_id,
                tenant_id=tenant,
                seq=1,
                kind=UpdateKind.UPDATE,
                body=request.description or request.title,
                idempotency_key="declare",
                notified=0,
                created_at=now,
            )
        )
        await self.session.flush()
        return await self._declared(outage, parent), True

    async def _declared(self, outage: Outage, parent: TicketInfo | None = None) -> OutageDeclared:
        if parent is None:
            tickets = TicketService(self.session, Principal.integration(outage.tenant_id))
            parent = await tickets.get_ticket(outage.ticket_id)
        affected = await repo.count_affected(self.session, outage.tenant_id, outage.tags)
        return OutageDeclared(**parent.model_dump(), affected=affected)

    async def post_update(
        self, number: str, body: str, key: str, now: datetime, *, kind: UpdateKind
    ) -> tuple[OutageUpdateInfo, bool]:
        """Record an update (or the resolution); the same key answers as the first time did.
        Returns the update and whether it is new."""
        check_storable(body=body, key=key)
        if not body.strip():
            raise InvalidInput("body", body, "must not be empty")
        if not 1 <= len(key) <= 200:
            raise InvalidInput("idempotency_key", key, "must be 1 to 200 characters")
        outage = await self.load(number, for_update=True)
        known = await repo.update_by_key(self.session, outage.ticket_id, key)
        if known is not None:
            return self._update_info(outage, known), False
        if outage.status is OutageStatus.RESOLVED:
            if kind is UpdateKind.RESOLUTION:
                # A rerun of resolve does nothing: the resolution already went out.
                last = await repo.update_by_seq(self.session, outage.ticket_id, outage.seq)
                return self._update_info(outage, last), False
            raise InvalidInput("number", number, "the outage is resolved")
        outage.seq += 1
        update = OutageUpdate(
            outage_id=outage.ticket_id,
            tenant_id=outage.tenant_id,
            seq=outage.seq,
            kind=kind,
            body=body,
            idempotency_key=key,
            notified=0,
            created_at=now,
        )
        self.session.add(update)
        if kind is UpdateKind.RESOLUTION:
            outage.status = OutageStatus.RESOLVED
            outage.resolved_at = now
            tickets = TicketService(self.session, Principal.integration(outage.tenant_id))
            await tickets.add_message(outage.ticket_id, body=body, now=now)
            await tickets.change_status(outage.ticket_id, TicketStatus.RESOLVED, now=now)
        await self.session.flush()
        return self._update_info(outage, update), True

    def _update_info(self, outage: Outage, update: OutageUpdate) -> OutageUpdateInfo:
        return OutageUpdateInfo(
            ticket_number=format_ticket_number(outage.number),
            seq=update.seq,
            kind=update.kind,
            body=update.body,
            created_at=update.created_at,
        )

    async def summary(self, outage: Outage) -> OutageSummary:
        latest = await repo.update_by_seq(self.session, outage.ticket_id, outage.seq)
        return OutageSummary(
            ticket_number=format_ticket_number(outage.number),
            title=outage.title,
            status=outage.status,
            tags=list(outage.tags),
            eta=outage.eta,
            notify=outage.notify,
            affected=await repo.count_affected(self.session, outage.tenant_id, outage.tags),
            linked=await repo.count_linked(self.session, outage.tenant_id, outage.number),
            notified=latest.notified,
            latest_update=latest.body,
            created_at=outage.created_at,
            resolved_at=outage.resolved_at,
        )

    async def detail(self, number: str) -> OutageDetail:
        outage = await self.load(number)
        summary = await self.summary(outage)
        linked = await repo.linked_numbers(self.session, outage.tenant_id, outage.number)
        updates = await repo.updates_of(self.session, outage.ticket_id)
        return OutageDetail(
            **summary.model_dump(),
            linked_tickets=[format_ticket_number(n) for n in linked],
            updates=[self._update_info(outage, u) for u in updates],
        )

    async def list(
        self,
        *,
        status: OutageStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
        tenant_id: str | None = None,
    ) -> OutagePage:
        """Newest first; a tenant's caller sees its tenant's, the platform any (or one)."""
        if not 1 <= limit <= 200:
            raise InvalidInput("limit", limit, "must be between 1 and 200")
        tenant = tenant_id if self.principal.sees_everything else self.principal.tenant_id
        before = decode_cursor(cursor) if cursor is not None else None
        rows = await repo.list_outages(self.session, tenant, status, before, limit + 1)
        items = [await self.summary(r) for r in rows[:limit]]
        more = len(rows) > limit
        return OutagePage(
            items=items, next_cursor=encode_cursor(rows[limit - 1].number) if more else None
        )


def now_or(value: datetime | None) -> datetime:
    return value or utcnow()
