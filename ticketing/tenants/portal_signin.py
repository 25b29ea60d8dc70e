"""The customer portal's sign-in: one-use links by email, and server-side sessions that stand
for the customer's Principal in one tenant."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal
from ticketing.core.fields import is_identifier
from ticketing.db.rls import bind_system
from ticketing.tenants import portal_repository as repo
from ticketing.tenants import repository as tenants_repo
from ticketing.tenants.portal_models import PortalLink, PortalSession

MAX_EMAIL = 254


@dataclass(frozen=True)
class PortalRules:
    """Link and session lifetimes (DESIGN.md, "Customer portal")."""

    link_lifetime: timedelta = timedelta(minutes=15)
    links_per_hour: int = 5
    idle: timedelta = timedelta(hours=8)
    absolute: timedelta = timedelta(days=7)
    # A session's last-seen time is written at most this often (not on every page).
    touch_every: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class LinkToSend:
    """A new sign-in link's token (shown once, in the mail; only its digest is stored) and
    where it goes."""

    token: str
    recipient: str
    tenant_id: str


@dataclass(frozen=True)
class PortalIdentity:
    """Who a portal session is: the customer's Principal in the session's tenant."""

    principal: Principal
    tenant_id: str
    customer_id: str
    email: str
    name: str | None
    csrf_token: str


def real_clock() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def _well_formed(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(at and local and domain and " " not in email and len(email) <= MAX_EMAIL)


class PortalSignIn:
    """Before any principal exists (like the desk's sign-in and the API key lookup): every
    statement runs under the explicit system scope, each method in its own transaction on
    `session` (which must have none)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        secret: bytes,
        rules: PortalRules | None = None,
        clock: Callable[[], datetime] = real_clock,
    ) -> None:
        self.session = session
        self.rules = rules or PortalRules()
        self.clock = clock
        self._key = hmac.digest(secret, b"ticketing-portal:address", "sha256")
        bind_system(session)

    def _email_key(self, email: str) -> bytes:
        return hmac.digest(self._key, email.encode("utf-8", "replace"), "sha256")

    async def tenant_name(self, tenant_id: str) -> str | None:
        """The name the tenant's portal is shown in, if there is such a tenant."""
        if not is_identifier(tenant_id):  # `?tenant=` is anyone's text
            return None
        async with self.session.begin():
            tenant = await tenants_repo.get_tenant(self.session, tenant_id)
        return tenant.name if tenant else None

    async def request_link(self, tenant_id: str, email: str) -> LinkToSend | None:
        """A new link for the tenant's customer with this address (older ones void), or None:
        no such customer, or the address had its links this hour. The caller answers both
        alike, so nobody learns which addresses are customers."""
        email = email.strip()[:MAX_EMAIL]
        if not is_identifier(tenant_id) or not _well_formed(email):
            return None
        key, now = self._email_key(email.lower()), self.clock()
        async with self.session.begin():
            ids = await tenants_repo.customer_ids_by_email(self.session, tenant_id, email)
            if not ids:
                return None
            await repo.lock_address(self.session, key)
            hour_ago = now - timedelta(hours=1)
            if await repo.links_since(self.session, key, hour_ago) >= self.rules.links_per_hour:
                return None
            await repo.prune_links(self.session, hour_ago)
            await repo.void_links(self.session, tenant_id, key, now)
            token = secrets.token_urlsafe(32)
            self.session.add(
                PortalLink(
                    token_hash=_digest(token),
                    tenant_id=tenant_id,
                    customer_id=ids[0],
                    email_key=key,
                    created_at=now,
                    expires_at=now + self.rules.link_lifetime,
                )
            )
        return LinkToSend(token, email, tenant_id)

    async def link_tenant(self, token: str) -> str | None:
        """The tenant of a link that may still sign in (it stays unused: GET shows a button)."""
        if not token or len(token) > 128:
            return None
        async with self.session.begin():
            link = await repo.usable_link(self.session, _digest(token), self.clock())
        return link.tenant_id if link else None

    async def sign_in(self, token: str, *, replacing: str | None = None) -> str | None:
        """Use the link (once) and open a session for its customer and tenant (ending the one
        `replacing` names); the new session's cookie value, or None for a link that is
        unknown, used, replaced or expired."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        async with self.session.begin():
            used = await repo.use_link(self.session, _digest(token), now)
            if used is None:
                return None
            if replacing and len(replacing) <= 128:
                await repo.delete_session(self.session, _digest(replacing))
            cookie = secrets.token_urlsafe(32)
            self.session.add(
                PortalSession(
                    id_hash=_digest(cookie),
                    tenant_id=used[0],
                    customer_id=used[1],
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return cookie

    async def identity(self, cookie: str | None) -> PortalIdentity | None:
        """The session's customer; None for no, an unknown, an idle or an expired session
        (which ends here, server-side)."""
        if not cookie or len(cookie) > 128:
            return None
        id_hash, now = _digest(cookie), self.clock()
        async with self.session.begin():
            found = await repo.session_with_customer(self.session, id_hash)
            if found is None:
                return None
            portal, customer = found
            if (
                now - portal.last_seen_at > self.rules.idle
                or now - portal.created_at > self.rules.absolute
            ):
                await repo.delete_session(self.session, id_hash)
                return None
            if now - portal.last_seen_at > self.rules.touch_every:
                await repo.touch_session(self.session, id_hash, now)
        email = customer.email or ""
        return PortalIdentity(
            principal=Principal.customer(portal.tenant_id, portal.customer_id, name=email or None),
            tenant_id=portal.tenant_id,
            customer_id=portal.customer_id,
            email=email,
            name=customer.name,
            csrf_token=portal.csrf_token,
        )

    async def sign_out(self, cookie: str | None) -> None:
        """End the session server-side: its cookie opens nothing from now on."""
        if not cookie or len(cookie) > 128:
            return
        async with self.session.begin():
            await repo.delete_session(self.session, _digest(cookie))
