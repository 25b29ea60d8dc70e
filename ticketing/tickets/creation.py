"""What a new ticket is made of, before its number: routing, due dates, first contact."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from ticketing.core.enums import Actor
from ticketing.core.errors import IdempotencyKeyReused, UnknownAssignee
from ticketing.sla import SlaClock, SlaPolicy, deadlines
from ticketing.tickets.context_repository import CreateContext
from ticketing.tickets.repository import NewTicketRow
from ticketing.tickets.routing import check_route
from ticketing.tickets.schemas import CreateTicketRequest, TicketInfo


@dataclass(frozen=True)
class Created:
    """A create's ticket (new or already made for its key), and what its flow does next."""

    ticket: TicketInfo
    # Its team hands out new tickets: the flow picks an agent after the commit.
    team_assigns: bool
    # Its customer is behind an active outage: the flow links it after the commit.
    outage_active: bool = False
    # False when the key's ticket already existed (a replay): work that goes with a new
    # ticket only (its files) is not done again.
    new: bool = True


@dataclass(frozen=True)
class DoorRules:
    """The HTTP doors' stricter rules for a create.

    `same_request`: a key already used must come with the same request (a retry), else
    IdempotencyKeyReused; at the HTTP API a key is the client's. Workflows keep a business key
    that names one ticket whatever each start carries (a second onboarding start shares it).
    `known_team`: `assigned_team` must be a team of the tenant; a workflow's team is a routing
    label the tenant may not have created yet."""

    same_request: bool = False
    known_team: bool = False


ANY_DOOR = DoorRules()
HTTP_DOOR = DoorRules(same_request=True, known_team=True)


def fingerprint_for(request: CreateTicketRequest, rules: DoorRules) -> str | None:
    """The fingerprint to store and compare, when the rules judge the request."""
    if not rules.same_request or request.idempotency_key is None:
        return None
    return request_fingerprint(request)


def check_replay(ctx: CreateContext, fingerprint: str | None) -> None:
    """A key already used with another request is refused. A ticket stored without a
    fingerprint (a workflow's, or made before fingerprints were kept) cannot be compared."""
    stored = ctx.existing_fingerprint
    if fingerprint is not None and stored is not None and stored != fingerprint:
        raise IdempotencyKeyReused()


def check_new_team(request: CreateTicketRequest, ctx: CreateContext, rules: DoorRules) -> None:
    if rules.known_team and request.assigned_team is not None and not ctx.team_known:
        raise UnknownAssignee("assigned_team", request.assigned_team)


def request_fingerprint(request: CreateTicketRequest) -> str:
    """SHA-256 of a create as parsed, its idempotency key aside: what a retry must repeat.
    Parsed rather than raw, so key order, spacing and spelled-out defaults do not count."""
    fields = request.model_dump(mode="json", exclude={"idempotency_key"})
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_ticket(
    request: CreateTicketRequest,
    ctx: CreateContext,
    policy: SlaPolicy,
    now: datetime,
    fingerprint: str | None = None,
) -> NewTicketRow:
    """The row a create inserts: routed to the tenant, due dates from the tenant's policy."""
    check_route(Actor.CUSTOMER, Actor.TENANT)
    clock = SlaClock(
        priority=request.priority.value,
        ticket_type=request.ticket_type.value,
        created_at=now,
        resolution_started_at=now,
        first_response_at=None,
        pauses=(),
        done=False,
        customer_plan=ctx.customer_plan,
        channel=request.channel.value,
    )
    due = deadlines(policy, clock, now)
    team = request.assigned_team
    contact = request.requester_email or ctx.customer_email
    return NewTicketRow(
        id=uuid.uuid4(),
        tenant_id=ctx.tenant_id,
        customer_id=ctx.customer_id,
        title=request.title,
        description=request.description,
        origin_type=Actor.CUSTOMER,
        target_type=Actor.TENANT,
        priority=request.priority,
        ticket_type=request.ticket_type,
        channel=request.channel,
        assigned_team=team,
        service_address=request.service_address,
        affected_services=request.affected_services,
        device_serial_numbers=request.device_serial_numbers,
        requester_email=request.requester_email,
        idempotency_key=request.idempotency_key,
        context={"assigned_team": team, "routing": {"team": team}},
        metadata=request.metadata,
        first_response_due=due.first_response_due,
        sla_due_date=due.resolution_due,
        created_at=now,
        author=contact,
        recipient=contact,
        idempotency_fingerprint=fingerprint,
    )
