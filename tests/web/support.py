"""Test helpers for the HTTP API: seeded tenants, one key per role, and an app over them."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.services import Services
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.tickets.ports import NoWatchers, Watchers
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts

PROBLEM_FIELDS = {"type", "title", "status", "detail", "field"}
ROLES = ("platform", "tenant_admin", "tenant_agent", "integration", "partner_agent")


@dataclass(frozen=True)
class Keys:
    """A key per role; tenant keys are acme's, the partner key is fiberco's (globex's partner)."""

    by_role: dict[str, str]
    revoked: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[role]}"}


async def clear_keys(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM api_keys"))


async def seed(sessions: async_sessionmaker[AsyncSession]) -> Keys:
    """acme (customer 42, no partner) and globex (customer 7, partner fiberco), and keys."""
    async with sessions() as session, session.begin():
        service = Services(session)
        await service.register_partner("fiberco", name="FiberCo", email="noc@fiberco.test")
        await service.register_tenant("acme", support_email="support@acme.test")
        await service.register_tenant("globex", partner_id="fiberco")
        await service.upsert_customer(tenant_id="acme", customer_id="42", email="jane@a.test")
        await service.upsert_customer(tenant_id="globex", customer_id="7", email="bob@g.test")
        issuer = ApiKeyService(session, Principal.platform())
        keys: dict[str, str] = {}
        for role in ROLES:
            scope: dict[str, str] = {}
            if role.startswith("tenant") or role == "integration":
                scope = {"tenant_id": "acme"}
            elif role == "partner_agent":
                scope = {"partner_id": "fiberco"}
            issued = await issuer.issue(KeyRole(role), name=f"{role}-key", **scope)
            keys[role] = issued.key
        gone = await issuer.issue(KeyRole.TENANT_ADMIN, tenant_id="acme", name="gone")
        await issuer.revoke(gone.key_id)
    return Keys(by_role=keys, revoked=gone.key)


def api_app(sessions: async_sessionmaker[AsyncSession], watchers: Watchers | None = None):  # type: ignore[no-untyped-def]
    return create_app(
        ApiPorts(
            sessions=sessions,
            watchers=watchers or NoWatchers(),
            notices=DirectDelivery(sessions, Notifier()),
        )
    )


def problem(response: httpx.Response, status: int, type_: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_FIELDS
    assert (body["status"], body["type"], body["field"]) == (status, type_, field)
