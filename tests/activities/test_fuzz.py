"""Property-based fuzzing of the public contracts with hostile payloads (strategies in
tests/strategies.py), at the service level and through a real worker on one dev server.

The property: every payload either succeeds, or fails with exactly one typed domain error that
names its field — never a crash, a retry loop, a half-written ticket or a burnt ticket number.
Run with `-s` to see the inputs tried and the outcomes by kind.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.tickets import NON_RETRYABLE_ERRORS, LenientCreateTicket, TicketActivities
from tests.services import Services
from tests.strategies import (
    corpus,
    create_ticket_requests,
    draw_many,
    installation_inputs,
    onboarding_inputs,
)
from tests.temporal_support import dev_server, running_worker
from tests.workflows.test_end_to_end import activity_attempts, application_error
from ticketing.core.errors import TicketingError
from ticketing.notifications.mailer import Notifier
from ticketing.temporal.schemas import (
    CreateTicketRequest,
    InstallationInput,
    InstallationState,
    OnboardingInput,
    TicketInfo,
    parse,
)
from ticketing.tickets.numbering import format_ticket_number

Sessions = async_sessionmaker[AsyncSession]

SERVICE_EXAMPLES = 300
WORKFLOW_EXAMPLES = 40
ACTIVITY_EXAMPLES = 40
WORKFLOW_DEADLINE = 25.0  # seconds for every fuzzed workflow to end

CUSTOMERS = {"42": "acme", "7": "globex"}  # seeded: customer id -> tenant
TENANTS = {"acme", "globex"}

CREATE_CORPUS = corpus(
    {"title": "No internet", "customer_id": 42},
    set(CreateTicketRequest.model_fields),
)
ONBOARDING_CORPUS = corpus(
    {"tenant_id": "acme", "customer_id": "2001", "customer_email": "c@d.test"},
    set(OnboardingInput.model_fields) - {"customer_id"},
) + [
    {"tenant_id": "acme", "customer_id": customer_id, "customer_email": "c@d.test"}
    for customer_id in (10**70, "1" * 30)
]
INSTALLATION_CORPUS = corpus(
    {"tenant_id": "globex", "customer_id": "2002", "service_address": "2 Main St"},
    set(InstallationInput.model_fields) - {"customer_id"},
)

ROW_COUNTS = text(
    "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM ticket_messages), "
    "(SELECT count(*) FROM ticket_events), (SELECT count(*) FROM notifications), "
    "(SELECT value FROM ticket_counters)"
)


async def seed(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        service = Services(session)
        await service.tenants.register_partner("fiberco", name="FiberCo", email="noc@fiberco.test")
        await service.tenants.register_tenant(
            "acme", name="Acme ISP", support_email="support@acme.test"
        )
        await service.tenants.register_tenant("globex", name="Globex", partner_id="fiberco")
        await service.tenants.upsert_customer(
            tenant_id="acme", customer_id="42", email="jane@a.test"
        )
        await service.tenants.upsert_customer(
            tenant_id="globex", customer_id="7", email="bob@g.test"
        )


async def row_counts(sessions: Sessions) -> tuple[int, ...]:
    async with sessions() as session:
        return tuple((await session.execute(ROW_COUNTS)).one())


async def assert_consistent(sessions: Sessions) -> int:
    """Ticket numbers 1..N without gaps, each with exactly one `created` event, one customer
    message and one `ticket_created` notification; the counter stands at N."""
    async with sessions() as session:
        numbers = sorted((await session.execute(text("SELECT number FROM tickets"))).scalars())
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        counter = (await session.execute(text("SELECT value FROM ticket_counters"))).scalar_one()
        assert counter == len(numbers)
        odd = (
            await session.execute(
                text(
                    """
SELECT t.number,
  (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'created'),
  (SELECT count(*) FROM ticket_messages m
     WHERE m.ticket_id = t.id AND m.author_actor = 'customer' AND NOT m.is_internal),
  (SELECT count(*) FROM notifications n
     WHERE n.ticket_id = t.id AND n.kind = 'ticket_created')
FROM tickets t
"""
                )
            )
        ).all()
        bad = [row for row in odd if tuple(row[1:]) != (1, 1, 1)]
        assert not bad, f"tickets without exactly one created event/message/notice: {bad}"
        return len(numbers)


def short(value: Any, limit: int = 160) -> str:
    text_ = repr(value)
    return text_ if len(text_) <= limit else f"{text_[:limit]}… ({len(text_)} chars)"


def expected_validation(model: type[BaseModel], payload: Any) -> TicketingError | None:
    try:
        parse(model, payload)
    except TicketingError as error:
        return error
    return None


def check_named_field(
    error_type: str, field: Any, message: str, model: type[BaseModel], payload: Any
) -> None:
    """A typed error names a non-empty field, one of the model's (or the model itself, for a
    non-object payload, or the unknown key itself), and its message contains that name."""
    assert error_type in NON_RETRYABLE_ERRORS, (error_type, message)
    assert isinstance(field, str) and field, (error_type, field, message)
    top = field.split(".")[0]
    known = set(model.model_fields) | {model.__name__}
    if isinstance(payload, dict):
        known |= {str(k) for k in payload}
    assert top in known, (field, message)
    assert top in message, (field, message)


def print_outcomes(title: str, tried: int, outcomes: Counter[str]) -> None:
    print(f"\n{title}: {tried} inputs")
    for kind, count in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:4d}  {kind}")


def check_service_error(
    error: TicketingError,
    predicted: TicketingError | None,
    request: CreateTicketRequest | None,
    payload: Any,
) -> None:
    """The error the schema predicts, or else the one the seeded data predicts."""
    kind = type(error).__name__
    check_named_field(kind, error.field, error.message, CreateTicketRequest, payload)
    if predicted is not None:
        assert (kind, error.field) == (type(predicted).__name__, predicted.field)
        return
    assert request is not None
    owner = CUSTOMERS.get(request.customer_id)
    unknown_tenant = request.tenant_id and request.tenant_id not in TENANTS
    # Another tenant's customer is reported exactly like a missing one.
    wanted = "TenantNotFound" if unknown_tenant else "CustomerNotFound"
    if owner is not None:
        assert request.tenant_id not in (None, owner)
    assert kind == wanted, (kind, wanted, short(payload))


# -- service level --------------------------------------------------------------------------


async def test_create_ticket_service_fuzz(committed: Sessions) -> None:
    """~300 hostile CreateTicketRequest payloads straight into Services.create_ticket,
    one committed transaction each. Each returns the ticket (matching the validated request,
    or the earlier ticket of the same idempotency key) or raises exactly the predicted domain
    error naming its field, leaving no rows behind; no other exception escapes."""
    await seed(committed)
    payloads = CREATE_CORPUS + draw_many(create_ticket_requests(), SERVICE_EXAMPLES)
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    by_key: dict[tuple[str, str], str] = {}
    for payload in payloads:
        before = await row_counts(committed)
        predicted = expected_validation(CreateTicketRequest, payload)
        request = None if predicted else CreateTicketRequest.model_validate(payload)
        if request is not None and predicted is None:
            try:
                request.check_rules()
            except TicketingError as error:
                predicted = error
        try:
            async with committed() as session, session.begin():
                info = await Services(session).tickets.create_ticket(payload)
        except TicketingError as error:
            outcomes[type(error).__name__] += 1
            check_service_error(error, predicted, request, payload)
            assert await row_counts(committed) == before, short(payload)
        except Exception as error:  # noqa: BLE001 - any other escape is the finding
            outcomes[f"UNEXPECTED {type(error).__name__}"] += 1
            unexpected.append(
                f"{type(error).__name__}: {short(str(error), 200)} <- {short(payload)}"
            )
            assert await row_counts(committed) == before
        else:
            assert predicted is None, (predicted, short(payload))
            assert request is not None
            assert CUSTOMERS.get(request.customer_id) == info.tenant_id
            assert request.tenant_id in (None, info.tenant_id)
            key = (info.tenant_id, request.idempotency_key or "")
            if request.idempotency_key and key in by_key:
                assert info.ticket_number == by_key[key]
                assert await row_counts(committed) == before
                outcomes["success (idempotent replay)"] += 1
                continue
            by_key[key] = info.ticket_number
            outcomes["success"] += 1
            assert info.title == request.title
            assert info.description == request.description
            assert info.customer_id == request.customer_id
            assert info.priority is request.priority
            assert info.ticket_type is request.ticket_type
            assert info.affected_services == request.affected_services
            assert info.service_address == request.service_address
            assert info.metadata == request.metadata
            after = await row_counts(committed)
            assert after[0] == before[0] + 1
            assert info.ticket_number == f"TKT-{after[4]:06d}"
    print_outcomes("Services.create_ticket", len(payloads), outcomes)
    for line in unexpected:
        print(f"  ! {line}")
    tickets = await assert_consistent(committed)
    print(f"  tickets in the database: {tickets}, gap-free and complete")
    assert not unexpected, "\n".join(unexpected)


# -- worker level ---------------------------------------------------------------------------


async def wait_and_finish(client: Client, workflow_id: str, installation: bool, close: str) -> None:
    """Wait (bounded) for the workflow to leave RUNNING; installations get their ticket
    completed or cancelled once it exists, so they can end too."""
    handle = client.get_workflow_handle(workflow_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKFLOW_DEADLINE
    signalled = False
    while loop.time() < deadline:
        status = (await handle.describe()).status
        if status is not WorkflowExecutionStatus.RUNNING:
            return
        if installation and not signalled:
            try:
                state = await handle.query("installation_state", result_type=InstallationState)
            except Exception:  # noqa: BLE001 - not queryable yet (first task pending)
                state = None
            if state is not None and state.ticket_number:
                try:
                    if close == "complete":
                        await handle.signal("complete_installation", {"notes": "done ✅"})
                    else:
                        await handle.signal("cancel_installation", {"reason": "fuzz 🚫"})
                except RPCError as error:
                    # It ended between describe() and the signal; how it ended is judged
                    # by the caller like any other outcome.
                    if error.status is not RPCStatusCode.NOT_FOUND:
                        raise
                signalled = True
        await asyncio.sleep(0.2)


async def test_worker_fuzz(committed: Sessions) -> None:
    """On one dev server with a real worker: ~40 hostile payloads each for OnboardingWorkflow
    and InstallationWorkflow (raw JSON, started by name) and ~40 for the `create_ticket`
    activity (through the JSON converter). Every workflow ends within the deadline, completed
    or failed with a non-retryable typed error naming the field — at most one activity attempt,
    no workflow task failure; every activity call returns or raises a non-retryable typed
    error. Afterwards the tickets are gap-free and complete, one per business key."""
    await seed(committed)
    unexpected: list[str] = []
    async with dev_server() as env:
        client = env.client
        async with running_worker(client, committed) as settings:
            cases: list[tuple[str, type[BaseModel], Any]] = [
                ("OnboardingWorkflow", OnboardingInput, p)
                for p in ONBOARDING_CORPUS + draw_many(onboarding_inputs(), WORKFLOW_EXAMPLES)
            ] + [
                ("InstallationWorkflow", InstallationInput, p)
                for p in INSTALLATION_CORPUS + draw_many(installation_inputs(), WORKFLOW_EXAMPLES)
            ]
            for index, (kind, _, payload) in enumerate(cases):
                await client.start_workflow(
                    kind,
                    payload,
                    id=f"fuzz-{kind}-{index}",
                    task_queue=settings.task_queue,
                )
            results = await asyncio.gather(
                *(
                    finish_case(client, kind, model, payload, index, unexpected)
                    for index, (kind, model, payload) in enumerate(cases)
                )
            )
    workflow_tickets: dict[tuple[str, str], set[str]] = {}
    for kind in ("OnboardingWorkflow", "InstallationWorkflow"):
        outcomes: Counter[str] = Counter()
        for (case_kind, _, payload), (outcome, result) in zip(cases, results, strict=True):
            if case_kind != kind:
                continue
            outcomes[outcome] += 1
            if outcome == "success":
                ticket = TicketInfo.model_validate(
                    result["ticket"] if kind == "InstallationWorkflow" else result
                )
                model = OnboardingInput if kind == "OnboardingWorkflow" else InstallationInput
                parsed = parse(model, payload)
                key = parsed.idempotency_key or (
                    f"onboarding:{parsed.tenant_id}:{parsed.customer_id}"
                    if kind == "OnboardingWorkflow"
                    else f"installation:{result['ticket']['metadata']['workflow_id']}"
                )
                workflow_tickets.setdefault((parsed.tenant_id, key), set()).add(
                    ticket.ticket_number
                )
        print_outcomes(kind, sum(outcomes.values()), outcomes)

    activity_numbers = await fuzz_activity(committed, unexpected)

    for line in unexpected:
        print(f"  ! {line}")
    tickets = await assert_consistent(committed)
    print(f"  tickets in the database: {tickets}, gap-free and complete")
    # One ticket per business key, and no ticket nobody was told about.
    assert all(len(numbers) == 1 for numbers in workflow_tickets.values()), workflow_tickets
    async with committed() as session:
        for (tenant_id, key), numbers in workflow_tickets.items():
            rows = (
                await session.execute(
                    text(
                        "SELECT number FROM tickets WHERE tenant_id = :t AND idempotency_key = :k"
                    ),
                    {"t": tenant_id, "k": key},
                )
            ).scalars()
            assert {format_ticket_number(n) for n in rows} == numbers, (tenant_id, key)
    told = set().union(*workflow_tickets.values(), activity_numbers)
    assert tickets == len(told), (tickets, sorted(told))
    assert not unexpected, "\n".join(unexpected)


async def finish_case(
    client: Client,
    kind: str,
    model: type[BaseModel],
    payload: Any,
    index: int,
    unexpected: list[str],
) -> tuple[str, Any]:
    workflow_id = f"fuzz-{kind}-{index}"
    handle = client.get_workflow_handle(workflow_id)
    close = "complete" if index % 2 else "cancel"
    await wait_and_finish(client, workflow_id, kind == "InstallationWorkflow", close)
    return await judge(handle, kind, model, payload, unexpected)


async def judge(
    handle: Any, kind: str, model: type[BaseModel], payload: Any, unexpected: list[str]
) -> tuple[str, Any]:
    description = await handle.describe()
    history = await handle.fetch_history()
    task_failures = [
        e.workflow_task_failed_event_attributes.failure
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    where = f"{kind} {handle.id} <- {short(payload)}"
    if task_failures:
        first = task_failures[0]
        unexpected.append(
            f"{len(task_failures)} workflow task failure(s), first "
            f"{short(first.message, 300)} {short(first.stack_trace[-600:], 700)}: {where}"
        )
    if description.status is WorkflowExecutionStatus.RUNNING:
        unexpected.append(f"still RUNNING after {WORKFLOW_DEADLINE:.0f}s: {where}")
        await handle.terminate("fuzz: left running")
        return "UNEXPECTED still running", None
    predicted = expected_validation(model, payload)
    try:
        result = await handle.result()
    except WorkflowFailureError as failure:
        cause = application_error(failure)
        if cause is None or not cause.non_retryable or cause.type not in NON_RETRYABLE_ERRORS:
            unexpected.append(f"failed with {failure.cause!r}: {where}")
            return f"UNEXPECTED failure {type(failure.cause).__name__}", None
        details = cause.details[0] if cause.details else {}
        field = details.get("field") if isinstance(details, dict) else None
        check_named_field(cause.type or "", field, cause.message, model, payload)
        attempts = await activity_attempts(handle)
        if predicted is not None:
            # Rejected by the workflow itself, before any activity.
            assert (cause.type, field) == (type(predicted).__name__, predicted.field), where
            assert attempts == 0, where
        else:
            assert cause.type in ("TenantNotFound", "TenantMismatch", "CustomerNotFound"), where
            assert attempts == 1, (attempts, where)
        return str(cause.type), None
    if predicted is not None:
        unexpected.append(f"succeeded although {predicted.message!r}: {where}")
    return "success", result


async def fuzz_activity(sessions: Sessions, unexpected: list[str]) -> set[str]:
    """The real `create_ticket` activity, its argument decoded from JSON exactly as a worker
    would (the lenient "model, else anything" type)."""
    acts = TicketActivities(sessions, client=None, notifier=Notifier(), task_queue="fuzz")
    payloads = (
        CREATE_CORPUS + draw_many(create_ticket_requests(huge=False), ACTIVITY_EXAMPLES * 3)[::3]
    )  # a different slice of the space than the service test's first examples
    outcomes: Counter[str] = Counter()
    numbers: set[str] = set()
    for payload in payloads:
        encoded = await pydantic_data_converter.encode([payload])
        [argument] = await pydantic_data_converter.decode(encoded, [LenientCreateTicket])
        try:
            ticket = await ActivityEnvironment().run(acts.create_ticket, argument)
        except ApplicationError as error:
            details = error.details[0] if error.details else {}
            field = details.get("field") if isinstance(details, dict) else None
            if not error.non_retryable or error.type not in NON_RETRYABLE_ERRORS:
                outcomes[f"UNEXPECTED {error.type} (retryable={not error.non_retryable})"] += 1
                unexpected.append(
                    f"create_ticket activity: {error.type}: {short(error.message, 200)} "
                    f"<- {short(payload)}"
                )
                continue
            check_named_field(error.type, field, error.message, CreateTicketRequest, payload)
            outcomes[error.type] += 1
        except Exception as error:  # noqa: BLE001 - any other escape is the finding
            outcomes[f"UNEXPECTED {type(error).__name__}"] += 1
            unexpected.append(f"create_ticket activity: {error!r} <- {short(payload)}")
        else:
            outcomes["success"] += 1
            numbers.add(ticket.ticket_number)
    print_outcomes("create_ticket activity", len(payloads), outcomes)
    return numbers
