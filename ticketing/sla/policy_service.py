"""A tenant's SLA policy document: read it, replace it, re-target the tenant's open tickets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.errors import Forbidden, InvalidInput, TenantNotFound
from ticketing.db.rls import bind_scope
from ticketing.sla import SlaPolicyDocument, parse_policy_document, validate_timezone
from ticketing.sla import repository as repo
from ticketing.sla.service import row_deadlines, row_policy, tenant_policy, utcnow
from ticketing.tenants import repository as tenants_repo
from ticketing.tenants.models import Tenant

# Tickets re-targeted per statement: bounded memory for a tenant with many open tickets.
PAGE = 500
_FIRST_ID = uuid.UUID(int=0)


class SlaPolicyService:
    """The platform and a tenant's admins edit its policy; its agents may read it."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "SlaPolicyService")
        bind_scope(session, self.principal)

    async def _tenant(self, tenant_id: str) -> Tenant:
        p = self.principal
        own = p.role in (Role.TENANT_ADMIN, Role.TENANT_AGENT) and p.tenant_id == tenant_id
        tenant = await tenants_repo.get_tenant(self.session, tenant_id)
        # Another tenant's policy is reported exactly like a missing tenant.
        if tenant is None or not (p.role is Role.PLATFORM or own):
            raise TenantNotFound(tenant_id)
        return tenant

    async def policy_document(self, tenant_id: str) -> SlaPolicyDocument:
        """The policy in force for the tenant (its calendar included) as the JSON document."""
        tenant = await self._tenant(tenant_id)
        policy = tenant_policy(tenant.sla_policy, tenant.calendar)
        return SlaPolicyDocument.from_policy(policy)

    async def set_policy(
        self,
        tenant_id: str,
        document: SlaPolicyDocument | Mapping[str, object] | str | bytes,
        *,
        timezone: str | None = None,
        now: datetime | None = None,
    ) -> tuple[SlaPolicyDocument, list[uuid.UUID]]:
        """Replace the tenant's policy; returns it and the open tickets whose dates moved.

        `timezone` (a zone given beside the document, as `PUT /tenants/{id}` and the
        `register_tenant` activity take it) is the zone of the document's calendar: its hours
        and holidays are kept in that zone. A document naming another zone is refused."""
        if not self.principal.may_administer_tenants:
            raise Forbidden("edit SLA policies")
        if not isinstance(document, SlaPolicyDocument):
            document = parse_policy_document(document)
        if timezone is not None:
            document = in_timezone(document, timezone)
        tenant = await self._tenant(tenant_id)
        tenant.sla_policy = document.model_dump(mode="json")
        # The document carries its calendar: a calendar stored beside it would override it.
        tenant.calendar = None
        await self.session.flush()
        return document, await self.retarget_open_tickets(tenant_id, now=now)

    async def retarget_customer_tickets(
        self, tenant_id: str, customer_id: str, *, now: datetime | None = None
    ) -> list[uuid.UUID]:
        """After the customer's plan changed (SLA rules match on plans): recompute its
        not-done tickets' due dates; returns them, so their watchers can be woken. Called after
        an upsert the tenant service allowed, so whoever may register customers may do this."""
        if self.principal.is_customer or self.principal.role is Role.PARTNER_AGENT:
            raise Forbidden("re-target tickets")
        now = now or utcnow()
        rows = await repo.customer_open_sla_rows(self.session, tenant_id, customer_id)
        if not rows:
            return []
        policy = row_policy(rows[0])
        due = [(row.id, row_deadlines(row, now, policy)) for row in rows]
        await repo.store_due_dates(
            self.session, [(i, d.first_response_due, d.resolution_due) for i, d in due]
        )
        return [row.id for row in rows]

    async def retarget_open_tickets(
        self, tenant_id: str, *, now: datetime | None = None
    ) -> list[uuid.UUID]:
        """Recompute the stored due dates of the tenant's not-done tickets under its current
        policy and calendar; returns every ticket re-targeted, so their watchers can be woken."""
        if not self.principal.may_administer_tenants:
            raise Forbidden("re-target tickets")
        await self._tenant(tenant_id)
        now = now or utcnow()
        moved: list[uuid.UUID] = []
        after = _FIRST_ID
        while rows := await repo.open_sla_rows(self.session, tenant_id, after=after, limit=PAGE):
            policy = row_policy(rows[0])
            due = [row_deadlines(row, now, policy) for row in rows]
            await repo.store_due_dates(
                self.session,
                [
                    (r.id, d.first_response_due, d.resolution_due)
                    for r, d in zip(rows, due, strict=True)
                ],
            )
            moved += [row.id for row in rows]
            after = rows[-1].id
        return moved


def in_timezone(document: SlaPolicyDocument, timezone: str) -> SlaPolicyDocument:
    """The document with its calendar in `timezone`; one that names another zone is refused,
    naming `timezone` (two zones in one call: which one was meant is not ours to guess)."""
    calendar = document.calendar
    if "timezone" in calendar.model_fields_set and calendar.timezone != timezone:
        raise InvalidInput(
            "timezone", timezone, f"differs from sla_policy.calendar.timezone {calendar.timezone}"
        )
    try:
        validate_timezone(timezone)
    except ValueError as error:
        raise InvalidInput("timezone", timezone, str(error)) from None
    zoned = calendar.model_copy(update={"timezone": timezone})
    return document.model_copy(update={"calendar": zoned})
