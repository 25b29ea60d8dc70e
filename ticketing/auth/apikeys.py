"""API keys: issue (shown once, stored hashed), revoke, list, and turn a presented key into
the Principal it stands for."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth import repository as repo
from ticketing.auth.models import ApiKey, KeyRole
from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.errors import Forbidden, InvalidInput, NotFound, PartnerNotFound, TenantNotFound
from ticketing.core.fields import check_storable
from ticketing.db.rls import bind_scope, bind_system
from ticketing.tenants import repository as tenants_repo

KEY_PREFIX = "tk_"
# 32 random bytes: far past guessing, so one unsalted sha256 is enough to store it.
KEY_BYTES = 32
SHOWN_PREFIX = len(KEY_PREFIX) + 8
TENANT_KEY_ROLES = frozenset({KeyRole.TENANT_ADMIN, KeyRole.TENANT_AGENT, KeyRole.INTEGRATION})


class ApiKeyNotFound(NotFound):
    def __init__(self, key_id: object) -> None:
        super().__init__(f"key_id: no API key {key_id!r}", field="key_id", value=key_id)


class ApiKeyInfo(BaseModel):
    """What a listing shows of a key: never the key, nor its hash."""

    key_id: uuid.UUID
    prefix: str
    name: str | None
    role: KeyRole
    tenant_id: str | None
    partner_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class IssuedApiKey(ApiKeyInfo):
    """A key just made: the only time `key` is ever seen."""

    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.id,
        prefix=row.prefix,
        name=row.name,
        role=row.role,
        tenant_id=row.tenant_id,
        partner_id=row.partner_id,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def principal_of(row: ApiKey) -> Principal:
    """The Principal a key stands for; its name is recorded as the actor of what it does."""
    return _principal(row.role, row.tenant_id, row.partner_id, row.name or f"apikey:{row.prefix}")


def _principal(
    role: KeyRole, tenant_id: str | None, partner_id: str | None, name: str
) -> Principal:
    if role is KeyRole.PLATFORM:
        return Principal.platform(name=name)
    if role is KeyRole.PARTNER_AGENT:
        assert partner_id is not None
        return Principal.partner_agent(partner_id, name=name)
    assert tenant_id is not None
    return Principal(Role(role.value), tenant_id=tenant_id, name=name)


def could_be_key(presented: str) -> bool:
    """Shaped like a key we issue: anything else is refused before it is hashed or looked up."""
    return presented.startswith(KEY_PREFIX) and len(presented) <= 200


async def authenticate(session: AsyncSession, presented: str) -> Principal | None:
    """The Principal of an active key; None for an unknown or revoked one. One prepared
    statement outside any transaction: it runs before every request's own work."""
    if not could_be_key(presented):
        return None
    # Before any principal exists: the one row whose hash matches, under an explicit scope.
    bind_system(session)
    row = await repo.find_active_alone(session, hash_key(presented))
    if row is None:
        return None
    role, tenant_id, partner_id, name, prefix = row
    return _principal(KeyRole(role), tenant_id, partner_id, name or f"apikey:{prefix}")


class ApiKeyService:
    """Issuing and revoking keys: the platform for any scope, a tenant admin for its own
    tenant's agent, admin and integration keys."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "ApiKeyService")
        bind_scope(session, self.principal)

    def _check_scope(self, role: KeyRole, tenant_id: str | None, partner_id: str | None) -> None:
        p = self.principal
        if p.role is Role.PLATFORM:
            return
        if p.role is not Role.TENANT_ADMIN or role not in TENANT_KEY_ROLES:
            raise Forbidden("issue API keys")
        if tenant_id != p.tenant_id:
            raise TenantNotFound(tenant_id)

    async def issue(
        self,
        role: KeyRole,
        *,
        tenant_id: str | None = None,
        partner_id: str | None = None,
        name: str | None = None,
    ) -> IssuedApiKey:
        """Make a key for `role` in its scope; the key is returned here and nowhere else."""
        check_storable(name=name, tenant_id=tenant_id, partner_id=partner_id)
        if name is not None and len(name) > 200:
            raise InvalidInput("name", name, "must be at most 200 characters")
        self._check_scope(role, tenant_id, partner_id)
        if role in TENANT_KEY_ROLES:
            if tenant_id is None or partner_id is not None:
                raise InvalidInput("tenant_id", tenant_id, f"a {role} key needs a tenant only")
            if await tenants_repo.get_tenant(self.session, tenant_id) is None:
                raise TenantNotFound(tenant_id)
        elif role is KeyRole.PARTNER_AGENT:
            if partner_id is None or tenant_id is not None:
                raise InvalidInput("partner_id", partner_id, "a partner key needs a partner only")
            if await tenants_repo.get_partner(self.session, partner_id) is None:
                raise PartnerNotFound(partner_id)
        elif tenant_id is not None or partner_id is not None:
            raise InvalidInput("tenant_id", tenant_id, "a platform key has no tenant or partner")
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        row = ApiKey(
            id=uuid.uuid4(),
            key_hash=hash_key(key),
            prefix=key[:SHOWN_PREFIX],
            name=name,
            role=role,
            tenant_id=tenant_id,
            partner_id=partner_id,
            created_at=datetime.now(UTC),
        )
        self.session.add(row)
        await self.session.flush()
        return IssuedApiKey(**key_info(row).model_dump(), key=key)

    async def revoke(self, key_id: uuid.UUID) -> ApiKeyInfo:
        """Revoke a key (revoking twice is fine); another tenant's key is not found."""
        await self._visible(key_id)
        row = await repo.revoke(self.session, key_id, datetime.now(UTC))
        assert row is not None
        return key_info(row)

    async def list_keys(self, *, include_revoked: bool = False) -> list[ApiKeyInfo]:
        p = self.principal
        if p.role not in (Role.PLATFORM, Role.TENANT_ADMIN):
            raise Forbidden("list API keys")
        rows = await repo.list_keys(
            self.session,
            tenant_id=None if p.role is Role.PLATFORM else p.tenant_id,
            include_revoked=include_revoked,
        )
        return [key_info(r) for r in rows]

    async def _visible(self, key_id: uuid.UUID) -> None:
        p = self.principal
        if p.role not in (Role.PLATFORM, Role.TENANT_ADMIN):
            raise Forbidden("revoke API keys")
        row = await self.session.get(ApiKey, key_id)
        if row is None or (p.role is Role.TENANT_ADMIN and row.tenant_id != p.tenant_id):
            raise ApiKeyNotFound(str(key_id))
