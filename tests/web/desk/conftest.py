"""A live desk: the API's app with the desk mounted, on uvicorn, over the suite's PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.notifications.smtp_support import free_port
from tests.services import Services
from tests.web.tracking.conftest import serve
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.teams.logins import LoginRole
from ticketing.teams.signin import AgentLogins, DeskRules
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers
from ticketing.tickets.schemas import TicketInfo
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.desk import DeskConfig

SECRET = b"test-secret-key-for-the-agent-desk-0123456789"
PASSWORD = "correct horse battery"
ALICE = "alice@acme.test"
BOB = "bob@acme.test"
GLORIA = "gloria@globex.test"
STAFF = "staff@platform.test"


@dataclass
class Desk:
    url: str
    ports: ApiPorts
    api_key: str

    def flows(self, principal: Principal) -> TicketFlows:
        return TicketFlows(
            self.ports.sessions,
            principal,
            watchers=self.ports.watchers,
            notices=self.ports.notices,
        )

    async def ticket(
        self, title: str = "No internet since the storm", tenant: str = "acme", **fields: object
    ) -> TicketInfo:
        customer = "42" if tenant == "acme" else "7"
        return await self.flows(Principal.integration(tenant, name="portal")).create(
            {
                "title": title,
                "customer_id": customer,
                "description": "The DSL light blinks.",
                **fields,
            }
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, follow_redirects=False)


async def seed_desk(sessions: async_sessionmaker[AsyncSession]) -> str:
    """acme (customer 42, agents alice and bob) and globex (customer 7, agent gloria), platform
    staff, and an API key of acme's."""
    async with sessions() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme", name="Acme Fiber")
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="Jane@Example.com", name="Jane"
        )
        await service.tenants.register_tenant("globex", name="Globex")
        await service.tenants.upsert_customer(
            tenant_id="globex", customer_id="7", email="bob@example.com"
        )
        logins = AgentLogins(session, Principal.platform(name="test"))
        await logins.add(ALICE, password=PASSWORD, tenant_id="acme", name="Alice")
        await logins.add(BOB, password=PASSWORD, tenant_id="acme", role=LoginRole.ADMIN)
        await logins.add(GLORIA, password=PASSWORD, tenant_id="globex")
        await logins.add(STAFF, password=PASSWORD, tenant_id=None, role=LoginRole.PLATFORM)
        issued = await ApiKeyService(session, Principal.platform()).issue(
            KeyRole.TENANT_AGENT, tenant_id="acme", name="api-agent"
        )
    return issued.key


def desk_fixture(rules: DeskRules):  # type: ignore[no-untyped-def]
    @pytest_asyncio.fixture
    async def fixture(committed: async_sessionmaker[AsyncSession]) -> AsyncIterator[Desk]:
        key = await seed_desk(committed)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        ports = ApiPorts(
            sessions=committed,
            watchers=NoWatchers(),
            notices=DirectDelivery(committed, Notifier()),
        )
        config = DeskConfig(secret=SECRET, rules=rules, public_url=url, live_every=0.5)
        server, task = await serve(create_app(ports, desk=config), port)
        try:
            yield Desk(url, ports, key)
        finally:
            server.should_exit = True
            await task

    return fixture


desk = desk_fixture(DeskRules())


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, html
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str = ALICE, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/desk/login")
    # Signed in already, the form is not shown (a redirect): its token is still the cookie's.
    csrf = field(page.text, "csrf") if page.status_code == 200 else client.cookies["desk_login"]
    return await client.post(
        "/desk/login", data={"csrf": csrf, "email": email, "password": password}
    )


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots land under the run's base temp: <basetemp>/artifacts."""
    folder = tmp_path_factory.getbasetemp() / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder
