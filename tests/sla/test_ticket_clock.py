"""The SLA clock wired into ticket changes, on a real PostgreSQL with no worker running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.services import Services
from ticketing.auth.principal import Principal
from ticketing.db.metadata import SlaBreach
from ticketing.sla import DEFAULT_POLICY, SlaPolicy
from ticketing.temporal.schemas import TicketStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


async def breach_rows(service: Services, ticket_id: object) -> list[tuple[str, int]]:
    rows = await service.session.execute(
        select(SlaBreach.kind, SlaBreach.escalation_level)
        .where(SlaBreach.ticket_id == ticket_id)
        .order_by(SlaBreach.id)
    )
    return [(kind, level) for kind, level in rows]


async def urgent(service: Services) -> object:
    """An urgent ticket at T0: 1 h to first response, 4 h to resolution, 24x7."""
    return (
        await service.tickets.create_ticket(
            {"title": "Down", "customer_id": 42, "priority": "urgent"}, now=T0
        )
    ).ticket_id


async def test_close_after_the_due_time_is_a_breach_without_a_watcher(
    service: Services, tenant: str
) -> None:
    ticket = await urgent(service)
    closed = await service.tickets.change_status(ticket, "closed", now=T0 + 5 * H)
    assert closed.sla_breached
    assert await breach_rows(service, ticket) == [("first_response", 1), ("resolution", 1)]
    # Reopened and closed again at once: the reopen's fresh resolution window is not due yet,
    # and nothing already recorded is recorded twice.
    await service.tickets.change_status(ticket, "open", now=T0 + 6 * H)
    await service.tickets.change_status(ticket, "closed", now=T0 + 6 * H + M)
    assert await breach_rows(service, ticket) == [("first_response", 1), ("resolution", 1)]
    _, events = await service.tickets.timeline(ticket)
    assert [e.kind for e in events].count("breached") == 2


async def test_resolve_before_the_due_time_records_nothing(service: Services, tenant: str) -> None:
    ticket = await urgent(service)
    await service.tickets.add_message(ticket, body="On it", author_actor="tenant", now=T0 + 10 * M)
    resolved = await service.tickets.change_status(ticket, "resolved", now=T0 + 3 * H)
    assert not resolved.sla_breached
    assert await breach_rows(service, ticket) == []


async def test_late_first_reply_is_a_breach_an_on_time_one_is_not(
    service: Services, tenant: str
) -> None:
    late, on_time = await urgent(service), await urgent(service)
    replied = await service.tickets.add_message(
        late, body="Sorry", author_actor="tenant", now=T0 + 2 * H
    )
    assert replied.sla_breached
    assert await breach_rows(service, late) == [("first_response", 1)]
    await service.tickets.add_message(on_time, body="Hi", author_actor="tenant", now=T0 + 30 * M)
    assert await breach_rows(service, on_time) == []
    # The resolution window is still open: the answer does not settle it.
    assert (await service.tickets.get_ticket(late)).sla_due_date == T0 + 4 * H


async def test_customer_message_and_internal_note_never_settle_a_window(
    service: Services, tenant: str
) -> None:
    ticket = await urgent(service)
    await service.tickets.add_message(
        ticket, body="Hello?", author_actor="customer", now=T0 + 2 * H
    )
    await service.tickets.add_message(
        ticket, body="check", author_actor="tenant", is_internal=True, now=T0 + 2 * H
    )
    assert await breach_rows(service, ticket) == []


async def test_pause_beginning_after_the_due_time_does_not_move_it(
    service: Services, tenant: str
) -> None:
    ticket = await urgent(service)
    await service.tickets.add_message(ticket, body="On it", author_actor="tenant", now=T0 + 10 * M)
    await service.tickets.change_status(ticket, "pending", now=T0 + 5 * H)
    resumed = await service.tickets.change_status(ticket, "in_progress", now=T0 + 7 * H)
    assert resumed.sla_due_date == T0 + 4 * H
    # A pause that began before the due time moves it by its whole length.
    other = await urgent(service)
    await service.tickets.add_message(other, body="On it", author_actor="tenant", now=T0 + 10 * M)
    await service.tickets.change_status(other, "pending", now=T0 + 3 * H)
    moved = await service.tickets.change_status(other, "in_progress", now=T0 + 5 * H)
    assert moved.sla_due_date == T0 + 6 * H


async def test_time_resolved_does_not_count_after_a_reopen(service: Services, tenant: str) -> None:
    ticket = await urgent(service)
    await service.tickets.change_status(ticket, "resolved", now=T0 + 10 * M)
    reopened = await service.tickets.change_status(ticket, "open", now=T0 + 5 * H)
    # First response was never given: 50 minutes of it are left after the 4 h 50 min resolved.
    assert reopened.first_response_due == T0 + 5 * H + 50 * M
    assert await breach_rows(service, ticket) == []


async def test_closed_suspends_the_clock_too(service: Services, tenant: str) -> None:
    ticket = await urgent(service)
    await service.tickets.change_status(ticket, "closed", now=T0 + 20 * M)
    reopened = await service.tickets.change_status(ticket, "open", now=T0 + 30 * H)
    assert reopened.first_response_due == T0 + 30 * H + 40 * M


async def test_a_tenant_may_keep_the_clock_running_while_resolved(
    service: Services, tenant: str
) -> None:
    only_pending = SlaPolicy(
        targets=DEFAULT_POLICY.targets, pause_statuses=frozenset({"pending", "closed"})
    )
    await service.tenants.register_tenant("acme", sla_policy=only_pending)
    ticket = await urgent(service)
    await service.tickets.change_status(ticket, "resolved", now=T0 + 10 * M)
    reopened = await service.tickets.change_status(ticket, "open", now=T0 + 5 * H)
    assert reopened.first_response_due == T0 + H


async def test_customer_reply_resumes_a_pending_ticket(service: Services, tenant: str) -> None:
    ticket = await urgent(service)
    await service.tickets.add_message(
        ticket, body="Which router?", author_actor="tenant", now=T0 + 5 * M
    )
    await service.tickets.change_status(ticket, "pending", now=T0 + 10 * M)
    customer = service.as_(Principal.customer("acme", "42"))
    resumed = await customer.tickets.add_message(ticket, body="The blue one", now=T0 + 2 * H)
    assert resumed.status is TicketStatus.IN_PROGRESS
    # The 1 h 50 min waiting on the customer extends the resolution due time.
    assert resumed.sla_due_date == T0 + 5 * H + 50 * M
    _, events = await service.tickets.timeline(ticket)
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["resumed", "status_changed"]
    assert events[-1].data == {"from": "pending", "to": "in_progress", "reason": "customer_replied"}


async def test_customer_reply_before_any_answer_goes_back_to_open(
    service: Services, tenant: str
) -> None:
    ticket = await urgent(service)
    await service.tickets.change_status(ticket, "pending", now=T0 + 5 * M)
    resumed = await service.tickets.add_message(
        ticket, body="Still down", author_actor="customer", now=T0 + 20 * M
    )
    assert resumed.status is TicketStatus.OPEN


async def test_customer_reply_reopens_a_resolved_ticket_with_the_reason(
    service: Services, tenant: str
) -> None:
    ticket = await urgent(service)
    await service.tickets.add_message(ticket, body="Fixed", author_actor="tenant", now=T0 + 5 * M)
    await service.tickets.change_status(ticket, "resolved", now=T0 + 10 * M)
    reopened = await service.tickets.add_message(
        ticket, body="It is down again", author_actor="customer", now=T0 + 2 * H
    )
    assert reopened.status is TicketStatus.OPEN
    assert reopened.sla_due_date == T0 + 6 * H  # a fresh 4 h resolution window
    messages, events = await service.tickets.timeline(ticket)
    assert messages[-1].body == "It is down again"
    assert events[-1].data == {"from": "resolved", "to": "open", "reason": "customer_replied"}


async def test_customer_reply_leaves_a_closed_ticket_closed(service: Services, tenant: str) -> None:
    ticket = await urgent(service)
    await service.tickets.change_status(ticket, "closed", now=T0 + 5 * M)
    after = await service.tickets.add_message(
        ticket, body="thanks", author_actor="customer", now=T0 + H
    )
    assert after.status is TicketStatus.CLOSED


async def test_a_retried_threshold_call_reports_what_its_first_attempt_recorded(
    service: Services, tenant: str
) -> None:
    ticket = await urgent(service)
    at = T0 + H + M
    first = await service.sla.record_threshold(ticket, "first_response", now=at)
    retried = await service.sla.record_threshold(ticket, "first_response", now=at)
    assert first.recorded and retried.recorded
    later = await service.sla.record_threshold(ticket, "first_response", now=at + M)
    assert not later.recorded
    # A resolution breach escalates; its retry finds the ticket one level up and says both.
    breach = await service.sla.record_threshold(ticket, "resolution", now=T0 + 5 * H)
    again = await service.sla.record_threshold(ticket, "resolution", now=T0 + 5 * H)
    assert (breach.recorded, breach.escalated) == (True, True)
    assert (again.recorded, again.escalated) == (True, True)
    assert await breach_rows(service, ticket) == [("first_response", 1), ("resolution", 1)]
