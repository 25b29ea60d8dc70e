"""Services against a real PostgreSQL: creation, lifecycle, errors and idempotency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.core import errors
from ticketing.db.metadata import Notification, Ticket, TicketEvent, TicketMessage
from ticketing.teams.schemas import AgentCreate, TeamCreate
from ticketing.teams.service import TeamService
from ticketing.temporal.schemas import Actor, CreateTicketRequest, Priority, TicketStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def request(**overrides: object) -> dict[str, object]:
    return {
        "title": "No internet",
        "description": "Router blinks red",
        "customer_id": 42,
        **overrides,
    }


async def row_counts(session: AsyncSession) -> tuple[int, ...]:
    counts = []
    for model in (Ticket, TicketMessage, TicketEvent, Notification):
        counts.append((await session.execute(select(func.count()).select_from(model))).scalar_one())
    return tuple(counts)


async def test_create_ticket_fills_every_field(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(
        request(
            priority="medium",
            assigned_team="support",
            ticket_type="speed_issue",
            affected_services=["internet"],
            requester_email="Jane@Example.com",
        ),
        now=T0,
    )
    assert info.ticket_number == "TKT-000001"
    assert info.tenant_id == "acme"
    assert info.customer_id == "42"
    assert (info.origin_type, info.target_type) == (Actor.CUSTOMER, Actor.TENANT)
    assert info.priority is Priority.NORMAL
    assert info.status is TicketStatus.OPEN
    assert info.context == {"assigned_team": "support", "routing": {"team": "support"}}
    # Default policy, 24x7: normal is 8 h to first response, 72 h to resolution.
    assert info.first_response_due == T0 + timedelta(hours=8)
    assert info.sla_due_date == T0 + timedelta(hours=72)
    assert info.escalation_level == 1 and not info.sla_breached
    messages, events = await service.tickets.timeline(info.ticket_number)
    assert [m.body for m in messages] == ["Router blinks red"]
    assert [e.kind for e in events] == ["created"]
    note = (await service.session.execute(select(Notification))).scalar_one()
    assert (note.kind, note.recipient) == ("ticket_created", "jane@example.com")


async def test_numbers_are_shared_by_every_channel(service: Services, tenant: str) -> None:
    numbers = []
    for channel in ("workflow", "web", "email", "chat", "api"):
        numbers.append(
            (await service.tickets.create_ticket(request(channel=channel))).ticket_number
        )
    assert numbers == [f"TKT-00000{i}" for i in range(1, 6)]


async def test_uuid_and_numeric_string_customer_ids(service: Services, tenant: str) -> None:
    customer = uuid.uuid4()
    await service.tenants.upsert_customer(tenant_id="acme", customer_id=str(customer))
    by_uuid = await service.tickets.create_ticket(request(customer_id=str(customer).upper()))
    by_string = await service.tickets.create_ticket(request(customer_id="0042"))
    assert by_uuid.customer_id == str(customer)
    assert by_string.customer_id == "42"


async def test_outage_report_is_one_hour_whatever_the_priority(
    service: Services, tenant: str
) -> None:
    info = await service.tickets.create_ticket(
        request(ticket_type="outage_report", priority="low"), now=T0
    )
    assert info.first_response_due == T0 + timedelta(hours=1)
    assert info.sla_due_date == T0 + timedelta(hours=4)


async def test_idempotency_key_returns_the_first_ticket(
    service: Services, tenant: str, session: AsyncSession
) -> None:
    first = await service.tickets.create_ticket(request(idempotency_key="onboarding:42"))
    before = await row_counts(session)
    second = await service.tickets.create_ticket(
        request(idempotency_key="onboarding:42", title="Other")
    )
    assert second.ticket_id == first.ticket_id
    assert second.ticket_number == first.ticket_number
    assert await row_counts(session) == before
    third = await service.tickets.create_ticket(request(idempotency_key="onboarding:43"))
    assert third.ticket_number == "TKT-000002"


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"title": ""}, errors.InvalidInput, "title"),
        ({"title": "   "}, errors.InvalidInput, "title"),
        ({"title": "x" * 201}, errors.InvalidInput, "title"),
        ({"ticket_type": "complaint"}, errors.InvalidInput, "ticket_type"),
        ({"priority": "critical"}, errors.InvalidInput, "priority"),
        ({"customer_id": "abc"}, errors.InvalidCustomerId, "customer_id"),
        ({"customer_id": -1}, errors.InvalidCustomerId, "customer_id"),
        ({"customer_id": True}, errors.InvalidCustomerId, "customer_id"),
        ({"customer_id": 999}, errors.CustomerNotFound, "customer_id"),
        # Another tenant's customer looks exactly like a missing one; it names no tenant.
        ({"tenant_id": "globex"}, errors.CustomerNotFound, "customer_id"),
        ({"tenant_id": "nope"}, errors.TenantNotFound, "tenant_id"),
        ({"ticket_type": "installation_request"}, errors.MissingServiceAddress, "service_address"),
        ({"title": "a\x00b"}, errors.InvalidInput, "title"),
        ({"requester_email": "not-an-email"}, errors.InvalidInput, "requester_email"),
        ({"description": "x" * 70_000}, errors.InvalidInput, "description"),
        ({"surprise": 1}, errors.InvalidInput, "surprise"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    service: Services,
    tenant: str,
    session: AsyncSession,
    overrides: dict[str, object],
    error: type[errors.TicketingError],
    field: str,
) -> None:
    before = await row_counts(session)
    with pytest.raises(error) as caught:
        await service.tickets.create_ticket(request(**overrides))
    assert type(caught.value) is error
    assert caught.value.field == field
    assert field in str(caught.value)
    assert await row_counts(session) == before


async def test_unknown_tenant_for_unknown_customer(service: Services, tenant: str) -> None:
    with pytest.raises(errors.TenantNotFound):
        await service.tickets.create_ticket(request(customer_id=5, tenant_id="nope"))
    with pytest.raises(errors.TenantNotFound):
        await service.tenants.upsert_customer(tenant_id="nope", customer_id="5")
    with pytest.raises(errors.PartnerNotFound):
        await service.tenants.register_tenant("x", partner_id="ghost")
    with pytest.raises(errors.InvalidInput, match="timezone"):
        await service.tenants.register_tenant("x", timezone="Mars/Olympus")


async def test_status_lifecycle_sets_timestamps(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(request(), now=T0)
    number = info.ticket_number
    await service.tickets.change_status(number, "in_progress", now=T0 + timedelta(minutes=5))
    resolved = await service.tickets.change_status(
        number, TicketStatus.RESOLVED, now=T0 + timedelta(hours=2)
    )
    assert resolved.resolved_at == T0 + timedelta(hours=2)
    closed = await service.tickets.change_status(number, "closed", now=T0 + timedelta(hours=3))
    assert closed.closed_at == T0 + timedelta(hours=3)
    assert closed.resolved_at == T0 + timedelta(hours=2)
    reopened = await service.tickets.change_status(number, "open", now=T0 + timedelta(hours=4))
    assert reopened.status is TicketStatus.OPEN
    assert reopened.resolved_at is None and reopened.closed_at is None
    # The reopened ticket has a fresh 72 h resolution window from the reopen.
    assert reopened.sla_due_date == T0 + timedelta(hours=4 + 72)
    _, events = await service.tickets.timeline(number)
    changes = [(e.data["from"], e.data["to"]) for e in events if e.kind == "status_changed"]
    assert changes == [
        ("open", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
    ]


@pytest.mark.parametrize(
    ("path", "illegal"),
    [([], "open"), (["resolved"], "pending"), (["closed"], "resolved"), (["closed"], "closed")],
)
async def test_illegal_transitions(
    service: Services, tenant: str, path: list[str], illegal: str
) -> None:
    info = await service.tickets.create_ticket(request())
    for status in path:
        await service.tickets.change_status(info.ticket_id, status)
    with pytest.raises(errors.InvalidTransition) as caught:
        await service.tickets.change_status(info.ticket_id, illegal)
    assert caught.value.field == "status"
    with pytest.raises(errors.InvalidInput, match="status"):
        await service.tickets.change_status(info.ticket_id, "archived")


async def test_pending_pauses_and_extends_due_dates(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(request(), now=T0)
    await service.tickets.change_status(info.ticket_number, "pending", now=T0 + timedelta(hours=1))
    paused = await service.sla.sla_snapshot(info.ticket_number, now=T0 + timedelta(hours=3))
    assert paused.paused and paused.phase == "paused" and paused.next_at is None
    resumed = await service.tickets.change_status(
        info.ticket_number, "in_progress", now=T0 + timedelta(hours=4)
    )
    assert resumed.first_response_due == T0 + timedelta(hours=8 + 3)
    assert resumed.sla_due_date == T0 + timedelta(hours=72 + 3)
    _, events = await service.tickets.timeline(info.ticket_number)
    assert {"paused", "resumed"} <= {e.kind for e in events}


async def test_first_public_reply_by_assigned_side_meets_first_response(
    service: Services, tenant: str
) -> None:
    info = await service.tickets.create_ticket(request(), now=T0)
    number = info.ticket_number
    await service.tickets.add_message(
        number, body="Any news?", author_actor="customer", now=T0 + timedelta(minutes=1)
    )
    await service.tickets.add_message(
        number,
        body="checking logs",
        author_actor="tenant",
        is_internal=True,
        now=T0 + timedelta(minutes=2),
    )
    snap = await service.sla.sla_snapshot(number, now=T0 + timedelta(minutes=3))
    assert not snap.first_response_met and snap.phase == "first_response"
    replied = await service.tickets.add_message(
        number,
        body="On it",
        author_actor=Actor.TENANT,
        author="agent@acme",
        now=T0 + timedelta(minutes=4),
    )
    assert replied.first_response_at == T0 + timedelta(minutes=4)
    again = await service.tickets.add_message(
        number, body="Still on it", author_actor="tenant", now=T0 + timedelta(minutes=9)
    )
    assert again.first_response_at == T0 + timedelta(minutes=4)
    snap = await service.sla.sla_snapshot(number, now=T0 + timedelta(minutes=10))
    assert snap.first_response_met and snap.phase == "resolution"
    assert snap.next_kind == "resolution_warning"
    messages, _ = await service.tickets.timeline(number)
    assert [m.is_internal for m in messages] == [False, False, True, False, False]
    with pytest.raises(errors.InvalidInput, match="body"):
        await service.tickets.add_message(number, body="  ", author_actor="tenant")
    with pytest.raises(errors.InvalidInput, match="author_actor"):
        await service.tickets.add_message(number, body="hi", author_actor="robot")


async def test_assign_and_change_priority(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(request(), now=T0)
    teams = TeamService(service.session, Principal.platform())
    await teams.create_agent(AgentCreate(email="alice@acme.test"), tenant_id=tenant)
    await teams.create_team(TeamCreate(name="noc"), tenant_id=tenant)
    assigned = await service.tickets.assign(
        info.ticket_number, assigned_to="alice@acme.test", assigned_team="noc", now=T0
    )
    assert assigned.assigned_to == "alice@acme.test" and assigned.assigned_team == "noc"
    assert assigned.context["routing"] == {"team": "noc"}
    urgent = await service.tickets.change_priority(
        info.ticket_number, "urgent", now=T0 + timedelta(minutes=30)
    )
    assert urgent.priority is Priority.URGENT
    assert urgent.first_response_due == T0 + timedelta(hours=1)
    assert urgent.sla_due_date == T0 + timedelta(hours=4)
    with pytest.raises(errors.InvalidInput, match="priority"):
        await service.tickets.change_priority(info.ticket_number, "asap")


async def test_escalation_route_without_partner_goes_to_platform(
    service: Services, tenant: str
) -> None:
    info = await service.tickets.create_ticket(request(), now=T0)
    l2, escalated = await service.escalate(info.ticket_number, from_level=1, now=T0)
    assert escalated and l2.escalation_level == 2
    assert (l2.origin_type, l2.target_type) == (Actor.TENANT, Actor.PLATFORM)
    again, escalated = await service.escalate(info.ticket_number, from_level=1, now=T0)
    assert not escalated and again.escalation_level == 2
    l3, escalated = await service.escalate(info.ticket_number, from_level=2, now=T0)
    assert escalated and l3.escalation_level == 3 and l3.target_type is Actor.PLATFORM
    top, escalated = await service.escalate(info.ticket_number, now=T0)
    assert not escalated and top.escalation_level == 3


async def test_escalation_route_with_partner(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(request(customer_id=7), now=T0)
    l2, _ = await service.escalate(info.ticket_id, now=T0)
    assert (l2.origin_type, l2.target_type) == (Actor.TENANT, Actor.PARTNER)
    l3, _ = await service.escalate(info.ticket_id, now=T0)
    assert (l3.origin_type, l3.target_type) == (Actor.PARTNER, Actor.PLATFORM)


async def test_record_breach_is_checked_idempotent_and_escalates(
    service: Services, tenant: str
) -> None:
    info = await service.tickets.create_ticket(request(priority="urgent"), now=T0)
    early = await service.sla.record_threshold(
        info.ticket_id, "resolution", now=T0 + timedelta(hours=1)
    )
    assert not early.recorded and not early.escalated
    warn = await service.sla.record_threshold(
        info.ticket_id, "first_response_warning", now=T0 + timedelta(minutes=45)
    )
    assert warn.recorded and warn.notification_ids
    assert warn.snapshot.warned == ["first_response"]
    fr = await service.sla.record_threshold(
        info.ticket_id, "first_response", now=T0 + timedelta(hours=1)
    )
    assert fr.recorded and not fr.escalated and fr.snapshot.breached == ["first_response"]
    late = T0 + timedelta(hours=4, seconds=1)
    res = await service.sla.record_threshold(info.ticket_id, "resolution", now=late)
    assert res.recorded and res.escalated
    assert res.snapshot.escalation_level == 2
    assert res.snapshot.resolution_window_start == late
    assert res.snapshot.breached == ["first_response"]  # the new window has no breach yet
    assert res.snapshot.sla_due_date == late + timedelta(hours=4)
    # The same call again (a retried activity carries its first `now`) reports what the first
    # attempt did without doing it twice; a later call finds nothing new.
    dup = await service.sla.record_threshold(info.ticket_id, "resolution", now=late)
    assert dup.recorded and dup.escalated and dup.snapshot.escalation_level == 2
    later = await service.sla.record_threshold(
        info.ticket_id, "resolution", now=late + timedelta(seconds=1)
    )
    assert not later.recorded and not later.escalated
    ticket = await service.tickets.get_ticket(info.ticket_number)
    assert ticket.sla_breached and ticket.escalation_level == 2
    with pytest.raises(errors.InvalidInput, match="kind"):
        await service.sla.record_threshold(info.ticket_id, "boom", now=late)


async def test_list_tickets_filters_search_and_pages(service: Services, tenant: str) -> None:
    for i in range(7):
        await service.tickets.create_ticket(
            request(title=f"Issue {i}", priority="high" if i % 2 else "low")
        )
    await service.tickets.create_ticket(request(customer_id=7, title="Globex fiber cut"))
    acme = service.for_tenant("acme")
    page = await acme.tickets.list_tickets(limit=3)
    assert [t.ticket_number for t in page.items] == ["TKT-000007", "TKT-000006", "TKT-000005"]
    rest = await acme.tickets.list_tickets(limit=3, cursor=page.next_cursor)
    assert [t.ticket_number for t in rest.items] == ["TKT-000004", "TKT-000003", "TKT-000002"]
    high = await acme.tickets.list_tickets(priority=Priority.HIGH)
    assert len(high.items) == 3
    found = await service.tickets.list_tickets(search="fiber")
    assert [t.tenant_id for t in found.items] == ["globex"]
    assert (await service.tickets.list_tickets(search="TKT-000003")).items[0].title == "Issue 2"
    assert (await service.tickets.list_tickets(search="100%")).items == []
    assert (await service.tickets.list_tickets(breached=True)).items == []
    with pytest.raises(errors.InvalidInput, match="cursor"):
        await service.tickets.list_tickets(cursor="!!")


async def test_other_tenants_ticket_is_not_found(service: Services, tenant: str) -> None:
    info = await service.tickets.create_ticket(request(customer_id=7))
    acme, globex = service.for_tenant("acme"), service.for_tenant("globex")
    with pytest.raises(errors.TicketNotFound):
        await acme.tickets.get_ticket(info.ticket_number)
    with pytest.raises(errors.TicketNotFound):
        await acme.tickets.change_status(info.ticket_number, "resolved")
    assert (await globex.tickets.get_ticket(info.ticket_number)).tenant_id == "globex"
    with pytest.raises(errors.TicketNotFound):
        await service.tickets.get_ticket("TKT-999999")
    with pytest.raises(errors.InvalidInput, match="ticket"):
        await service.tickets.get_ticket("ticket-1")


async def test_numbers_widen_past_six_digits(
    service: Services, tenant: str, session: AsyncSession
) -> None:
    from sqlalchemy import text

    await session.execute(text("UPDATE ticket_counters SET value = 999998"))
    assert (await service.tickets.create_ticket(request())).ticket_number == "TKT-999999"
    assert (await service.tickets.create_ticket(request())).ticket_number == "TKT-1000000"
    assert (await service.tickets.get_ticket("TKT-1000000")).ticket_number == "TKT-1000000"


async def test_create_request_model_is_accepted(service: Services, tenant: str) -> None:
    model = CreateTicketRequest(title="Typed", customer_id="42")
    assert (await service.tickets.create_ticket(model)).title == "Typed"
