"""A live portal: the API's app with the portal mounted, on uvicorn, over the suite's
PostgreSQL, mailing through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.notifications.smtp_support import Received, RecordingHandler, free_port, smtp_server
from tests.services import Services
from tests.web.tracking.conftest import serve
from ticketing.auth.principal import Principal
from ticketing.notifications.delivery import MailTransport
from ticketing.notifications.mailer import Notifier
from ticketing.notifications.service import DirectDelivery
from ticketing.tickets.attachments.store import AttachmentStores, PostgresStore
from ticketing.tickets.flows import TicketFlows
from ticketing.tickets.ports import NoWatchers
from ticketing.tickets.schemas import TicketInfo
from ticketing.web.app import create_app
from ticketing.web.deps import ApiPorts
from ticketing.web.portal import PortalConfig
from ticketing.web.portal.attachments import DomainAttachments
from ticketing.web.portal.mail import SignInMail

SECRET = b"test-secret-key-for-the-customer-portal-0123456789"
JANE = "jane@example.com"
SAM = "sam@example.com"
SIGN_IN_SUBJECT = "Your sign-in link"


class Clock:
    """The portal's clock: the real time, moved on by what a test skips (never waited)."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skipped

    def advance(self, by: timedelta) -> None:
        self.skipped += by


@dataclass
class Site:
    url: str
    ports: ApiPorts
    mail: RecordingHandler
    clock: Clock = dataclass_field(default_factory=Clock)

    def flows(self, principal: Principal) -> TicketFlows:
        return TicketFlows(
            self.ports.sessions, principal, watchers=self.ports.watchers, notices=self.ports.notices
        )

    async def ticket(self, title: str, *, tenant: str = "acme", customer: str = "42") -> TicketInfo:
        return await self.flows(Principal.integration(tenant, name="crm")).create(
            {"title": title, "customer_id": customer, "description": "The DSL light blinks."}
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, follow_redirects=False)

    def sign_in_mails(self, recipient: str) -> list[Received]:
        return [
            r
            for r in self.mail.received
            if recipient in r.recipients and SIGN_IN_SUBJECT in str(r.message["Subject"])
        ]

    async def next_link(self, recipient: str, count: int) -> str:
        """The link in the `count`-th sign-in mail to `recipient` (sent after the page's
        answer: waited for, up to 10 s)."""
        for _ in range(500):
            mails = self.sign_in_mails(recipient)
            if len(mails) >= count:
                return link_in(mails[count - 1])
            await asyncio.sleep(0.02)
        raise AssertionError(f"no sign-in mail #{count} to {recipient}")


def link_in(received: Received) -> str:
    body = received.message.get_body(("plain",))
    assert body is not None
    match = re.search(r"(http://\S+/portal/signin/[A-Za-z0-9_-]+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """acme: Jane (42, any case) and Sam (43); globex: Bob (7) and Jane again (9)."""
    async with sessions() as session, session.begin():
        service = Services(session)
        await service.tenants.register_tenant("acme", name="Acme Fiber")
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="Jane@Example.com", name="Jane"
        )
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="43", email=SAM)
        await service.tenants.register_tenant("globex", name="Globex Broadband")
        await service.tenants.upsert_customer(
            tenant_id="globex", customer_id="7", email="bob@example.com"
        )
        await service.tenants.upsert_customer(tenant_id="globex", customer_id="9", email=JANE)


@pytest_asyncio.fixture
async def site(committed: async_sessionmaker[AsyncSession]) -> AsyncIterator[Site]:
    await seed(committed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mail = RecordingHandler()
    clock = Clock()
    with smtp_server(mail) as smtp_port:
        smtp = f"smtp://127.0.0.1:{smtp_port}"
        ports = ApiPorts(
            sessions=committed,
            watchers=NoWatchers(),
            notices=DirectDelivery(committed, Notifier(smtp, "help@acme.test")),
        )
        config = PortalConfig(
            secret=SECRET,
            mail=SignInMail(MailTransport.from_url(smtp), "help@acme.test"),
            public_url=url,
            attachments=DomainAttachments(AttachmentStores(PostgresStore()), 10 * 1024 * 1024),
            clock=clock,
        )
        server, task = await serve(create_app(ports, portal=config), port)
        try:
            yield Site(url, ports, mail, clock)
        finally:
            server.should_exit = True
            await task


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, html
    return match.group(1)


async def ask_link(client: httpx.AsyncClient, email: str, tenant: str = "acme") -> httpx.Response:
    page = await client.get(f"/portal?tenant={tenant}")
    assert page.status_code == 200, page.text
    return await client.post(
        "/portal/link", data={"csrf": field(page.text, "csrf"), "tenant": tenant, "email": email}
    )


async def confirm(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link (a page with a button) and press "Sign in"."""
    page = await client.get(link)
    if page.status_code != 200:
        return page
    return await client.post(
        "/portal/signin", data={"csrf": field(page.text, "csrf"), "link": field(page.text, "link")}
    )


async def sign_in(
    site: Site, client: httpx.AsyncClient, email: str = JANE, tenant: str = "acme"
) -> None:
    """Ask for a link, follow it from the mail, press "Sign in"."""
    before = len(site.sign_in_mails(email))
    await ask_link(client, email, tenant)
    link = await site.next_link(email, before + 1)
    answer = await confirm(client, link)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder
