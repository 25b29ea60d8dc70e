"""/api/v1/api-keys: issue, list and revoke keys (platform keys anywhere, tenant admins for
their own tenant's agent, admin and integration keys)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from ticketing.auth.apikeys import ApiKeyInfo, ApiKeyService, IssuedApiKey
from ticketing.auth.chat_identity import identity_secret
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Role
from ticketing.core.errors import TenantNotFound
from ticketing.web.chat import identity_secret_source
from ticketing.web.deps import Caller, Ports
from ticketing.web.routing import api_router

router = api_router("/api/v1/api-keys", "api keys")
Tenant = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="Platform keys only: the tenant the new key acts for.",
    ),
]


class NewApiKey(BaseModel):
    """The key to issue. Its tenant is the caller's own (a platform key names one in the
    query); a partner agent key names its partner, platform keys only."""

    model_config = ConfigDict(extra="forbid")

    role: KeyRole
    name: str | None = Field(default=None, max_length=200)
    partner_id: str | None = Field(default=None, max_length=64)


class IssuedKey(IssuedApiKey):
    """An integration key also gets the secret its chat customer signatures are made with
    (shown here only; null when the server has no secret key)."""

    identity_secret: str | None = None


@router.get("", summary="The keys the caller may manage (never the keys themselves)")
async def list_keys(
    caller: Caller, ports: Ports, include_revoked: bool = False
) -> list[ApiKeyInfo]:
    async with ports.sessions() as session:
        return await ApiKeyService(session, caller).list_keys(include_revoked=include_revoked)


@router.post("", status_code=201, summary="Issue a key; the response is the only time it is shown")
async def issue_key(
    body: NewApiKey,
    caller: Caller,
    ports: Ports,
    server_secret: Annotated[bytes | None, Depends(identity_secret_source)],
    tenant_id: Tenant = None,
) -> IssuedKey:
    # A tenant admin's keys are for its own tenant: the scope comes from the caller's key, and
    # naming another tenant finds nothing there, like any other scope.
    tenant = tenant_id
    if caller.role is not Role.PLATFORM:
        if tenant_id not in (None, caller.tenant_id):
            raise TenantNotFound(tenant_id)
        tenant = caller.tenant_id
    async with ports.sessions() as session, session.begin():
        issued = await ApiKeyService(session, caller).issue(
            body.role, tenant_id=tenant, partner_id=body.partner_id, name=body.name
        )
    secret = None
    if body.role is KeyRole.INTEGRATION and server_secret is not None:
        secret = identity_secret(server_secret, issued.key_id)
    return IssuedKey(**issued.model_dump(), identity_secret=secret)


@router.delete("/{key_id}", summary="Revoke a key (again is fine); its next request is a 401")
async def revoke_key(key_id: uuid.UUID, caller: Caller, ports: Ports) -> ApiKeyInfo:
    async with ports.sessions() as session, session.begin():
        revoked = await ApiKeyService(session, caller).revoke(key_id)
    ports.keys.forget_all()  # committed: no request here may use it from memory any more
    return revoked
