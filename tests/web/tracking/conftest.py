"""A live tracking site: PostgreSQL, a Temporal dev server for watchers, aiosmtpd, uvicorn."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from tests.notifications.smtp_support import RecordingHandler, free_port, smtp_server
from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.auth.signed_links import TrackingLinks, TrackingTokens
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.temporal.watchers import TemporalWatchers
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.schemas import TicketInfo
from ticketing.web.tracking import Limit, TrackingConfig, TrackingLimits, create_tracking_app

CHROMIUM = "/usr/bin/chromium"
SECRET = b"test-secret-key-for-tracking-links-0123456789"
QUEUE = "tracking-tests"
# Generous enough for the enumeration and timing tests' hundreds of lookups from 127.0.0.1.
ROOMY = TrackingLimits(Limit(10_000, 600), Limit(10_000, 600), Limit(10_000, 600))


@dataclass(frozen=True)
class Ports:
    sessions: async_sessionmaker[AsyncSession]
    watchers: TemporalWatchers
    notices: DirectDelivery


@dataclass
class Site:
    url: str
    ports: Ports
    mail: RecordingHandler
    tokens: TrackingTokens

    def flows(self, principal: Principal) -> TicketFlows:
        return TicketFlows(
            self.ports.sessions,
            principal,
            watchers=self.ports.watchers,
            notices=self.ports.notices,
        )

    async def open_ticket(self, title: str = "No internet since the storm") -> TicketInfo:
        """A ticket opened the way an integration opens one: watched, created notice mailed."""
        return await self.flows(Principal.integration("acme", name="portal")).create(
            {"title": title, "customer_id": 42, "description": "The router's DSL light blinks."}
        )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant(
            "acme", name="Acme Fiber", support_email="help@acme.test"
        )
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="Jane@Example.com", name="Jane"
        )
        await service.tenants.register_tenant("globex", name="Globex")
        await service.tenants.upsert_customer(
            tenant_id="globex", customer_id="7", email="bob@example.com"
        )


async def serve(app: object, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")  # type: ignore[arg-type]
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


def site_fixture(limits: TrackingLimits):  # type: ignore[no-untyped-def]
    @pytest_asyncio.fixture
    async def fixture(
        committed: async_sessionmaker[AsyncSession], dev: WorkflowEnvironment
    ) -> AsyncIterator[Site]:
        await seed(committed)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        tokens = TrackingTokens(SECRET)
        mail = RecordingHandler()
        with smtp_server(mail) as smtp_port:
            notifier = Notifier(
                f"smtp://127.0.0.1:{smtp_port}",
                "help@acme.test",
                links=TrackingLinks(tokens, url, timedelta(days=30)),
            )
            ports = Ports(
                committed, TemporalWatchers(dev.client, QUEUE), DirectDelivery(committed, notifier)
            )
            app = create_tracking_app(ports, TrackingConfig(tokens=tokens, limits=limits))
            server, task = await serve(app, port)
            try:
                yield Site(url, ports, mail, tokens)
            finally:
                server.should_exit = True
                await task

    return fixture


site = site_fixture(ROOMY)
strict_site = site_fixture(TrackingLimits(Limit(1000, 600), Limit(3, 600), Limit(3, 600)))


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots land under the run's base temp: <basetemp>/artifacts."""
    folder = tmp_path_factory.getbasetemp() / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder


def require_chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it)",
            pytrace=False,
        )
    return CHROMIUM


def tracking_link(mail_html: str) -> str:
    match = re.search(r'href="([^"]+/track/[A-Za-z0-9_-]+)"', mail_html)
    assert match, mail_html
    return match.group(1)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def token_of(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)
