"""Mail intake fixtures: a migrated database with two tenants, their mailboxes, and the
intake flow wired to recording ports (the Temporal side is tested elsewhere)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.mail.flows import IntakeConfig, MailIntake
from ticketing.mail.mailboxes import MailboxService
from ticketing.mail.models import SenderPolicy
from ticketing.tenants.service import TenantService
from ticketing.tickets.schemas import TicketInfo

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class RecordingPorts:
    watched: list[str] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)
    handed_over: list[uuid.UUID] = field(default_factory=list)

    async def ensure(self, ticket: TicketInfo) -> None:
        self.watched.append(ticket.ticket_number)

    async def wake(self, ticket: TicketInfo) -> None:
        self.woken.append(ticket.ticket_number)

    async def hand_over(self, ticket_id: uuid.UUID) -> None:
        self.handed_over.append(ticket_id)


async def seed(sessions: Sessions) -> None:
    platform = Principal.platform()
    async with sessions() as s, s.begin():
        tenants = TenantService(s, platform)
        await tenants.register_tenant("acme", name="Acme ISP", support_email="desk@acme.test")
        await tenants.register_tenant("globex", name="Globex")
        await tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="Jane@Example.com", name="Jane"
        )
        await tenants.upsert_customer(
            tenant_id="acme", customer_id="99", email="mallory@example.net", name="Mallory"
        )
        await tenants.upsert_customer(tenant_id="globex", customer_id="7", email="bob@example.com")
        boxes = MailboxService(s, platform)
        await boxes.add("support@acme.test", tenant_id="acme")
        await boxes.add("help@acme.test", tenant_id="acme")
        await boxes.add(
            "sales@acme.test",
            tenant_id="acme",
            senders=SenderPolicy.DOMAINS,
            domains=["partner.example"],
        )
        await boxes.add("support@globex.test", tenant_id="globex", senders=SenderPolicy.ANYONE)


@pytest_asyncio.fixture
async def seeded(committed: Sessions) -> Sessions:
    await seed(committed)
    return committed


@pytest_asyncio.fixture
async def ports() -> RecordingPorts:
    return RecordingPorts()


@pytest_asyncio.fixture
async def intake(seeded: Sessions, ports: RecordingPorts) -> AsyncIterator[MailIntake]:
    yield MailIntake(
        seeded,
        watchers=ports,
        notices=ports,
        config=IntakeConfig(own_sender="tickets@acme.test", mail_domain="acme.test"),
    )


async def scalar(sessions: Sessions, sql: str, **params: object) -> object:
    async with sessions() as s:
        return (await s.execute(text(sql), params)).scalar()
