"""Registering a tenant with an SLA policy and a time zone in one call (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.notifications.service import QueueOnly
from ticketing.sla import SlaPolicyDocument
from ticketing.sla.policy_document import parse_policy_document
from ticketing.sla.policy_service import SlaPolicyService
from ticketing.tenants.flows import TenantFlows
from ticketing.tenants.schemas import RegisterTenantInput
from ticketing.tickets.schemas import TicketInfo

Sessions = async_sessionmaker[AsyncSession]
BERLIN = ZoneInfo("Europe/Berlin")
# Friday 2026-03-06, 15:00 in Berlin.
FRIDAY_AFTERNOON = datetime(2026, 3, 6, 15, 0, tzinfo=BERLIN).astimezone(UTC)


class NoWatchers:
    async def ensure(self, ticket: TicketInfo) -> None:
        return None

    async def wake(self, ticket: TicketInfo) -> None:
        return None


def office_policy(timezone: str | None) -> dict[str, object]:
    def targets(first: int, resolution: int) -> dict[str, int]:
        return {"first_response_seconds": first, "resolution_seconds": resolution}

    office = [{"start": "09:00", "end": "17:00"}]
    calendar: dict[str, object] = {
        "hours": {day: office for day in ("mon", "tue", "wed", "thu", "fri")}
    }
    if timezone is not None:
        calendar["timezone"] = timezone
    return {
        "calendar": calendar,
        "targets": {
            "low": targets(28800, 57600),
            "normal": targets(14400, 28800),
            "high": targets(7200, 14400),
            "urgent": targets(3600, 7200),
        },
    }


@pytest.mark.parametrize("document_zone", [None, "Europe/Berlin"])
async def test_a_policy_and_a_zone_in_one_call_keep_the_policys_business_hours(
    committed: Sessions, document_zone: str | None
) -> None:
    flows = TenantFlows(committed, Principal.platform(), watchers=NoWatchers(), notices=QueueOnly())
    await flows.register_tenant(
        RegisterTenantInput.model_validate(
            {
                "tenant_id": "acme",
                "timezone": "Europe/Berlin",
                "sla_policy": office_policy(document_zone),
            }
        )
    )
    async with committed() as session, session.begin():
        service = Services(session)
        await service.tenants.upsert_customer(tenant_id="acme", customer_id="42")
        ticket = await service.tickets.create_ticket(
            {"title": "No internet", "customer_id": 42}, now=FRIDAY_AFTERNOON
        )
        policy = await SlaPolicyService(session, Principal.platform()).policy_document("acme")
    # Two business hours left on Friday, then Monday from 09:00 in Berlin: never a weekend.
    assert ticket.first_response_due == datetime(2026, 3, 9, 11, 0, tzinfo=BERLIN)
    assert ticket.sla_due_date == datetime(2026, 3, 9, 15, 0, tzinfo=BERLIN)
    assert isinstance(policy, SlaPolicyDocument)
    assert policy.calendar.timezone == "Europe/Berlin"
    assert policy.calendar.hours is not None and set(policy.calendar.hours) == {
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    }


async def test_a_zone_beside_a_document_naming_another_zone_is_refused(committed: Sessions) -> None:
    flows = TenantFlows(committed, Principal.platform(), watchers=NoWatchers(), notices=QueueOnly())
    change = RegisterTenantInput.model_validate(
        {"tenant_id": "acme", "timezone": "Europe/Berlin", "sla_policy": office_policy("UTC")}
    )
    with pytest.raises(InvalidInput) as caught:
        await flows.register_tenant(change)
    assert caught.value.field == "timezone"


async def test_a_built_policy_and_a_zone_keep_the_policys_hours(committed: Sessions) -> None:
    # The CLI's path: a policy built in code, stored as it is, with `--timezone`.
    office = parse_policy_document(office_policy(None)).to_policy()
    async with committed() as session, session.begin():
        await Services(session).tenants.register_tenant(
            "acme", timezone="Europe/Berlin", sla_policy=office
        )
        await Services(session).tenants.upsert_customer(tenant_id="acme", customer_id="42")
        ticket = await Services(session).tickets.create_ticket(
            {"title": "No internet", "customer_id": 42}, now=FRIDAY_AFTERNOON
        )
    assert ticket.first_response_due == datetime(2026, 3, 9, 11, 0, tzinfo=BERLIN)
