"""Chaos run: start N onboardings and installations against the embedded stack while the worker
is SIGKILLed, PostgreSQL is stopped and the Temporal dev server is restarted; then verify.

    python -m chaos.run --n 500 --seed 1 [--home DIR] [--time-limit 900]

Everything runs under one home directory of its own (a pgserver datadir, a dev server persisting
to `temporal.db`, worker logs). Notifications go to an SMTP sink inside this process, so "sent
twice" is observed at the receiving end, not inferred from the outbox. The checks, the fault log
and the throughput are printed as tables and written to `chaos/results/last.json`; the exit code
is non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
)

from chaos.checks import (
    Breach,
    Row,
    check_failed_rows,
    check_local_activities,
    check_refused,
    check_thresholds,
    check_watchers_target,
    local_activity_attempt,
    started_input,
)
from chaos.faults import FaultInjector
from chaos.load import RPC_TIMEOUT, Load
from chaos.plan import (
    DEFAULT_RESULTS,
    ChaosConfig,
    Clock,
    Fault,
    Request,
    plan_faults,
    plan_requests,
)
from chaos.processes import Stack
from chaos.report import ChaosReport, Check, FaultEvent, _config_json, print_report
from chaos.smtp import is_refused
from ticketing.db.engine import make_engine
from ticketing.db.metadata import Notification, SlaBreach, Ticket, TicketCounter
from ticketing.temporal.schemas import (
    InstallationResult,
    TicketInfo,
)
from ticketing.tickets.numbering import format_ticket_number


@dataclass(frozen=True)
class StoredTicket:
    """A ticket row as the verifier reads it, with its number as the product shows it."""

    ticket_number: str
    number: int
    tenant_id: str
    idempotency_key: str | None
    status: str
    id: Any

DONE_STATUSES = {"resolved", "closed"}

# "Stuck in a retry loop" bounds. With DB_RETRY (200 ms doubling to 10 s) an outage of a few
# seconds costs a handful of attempts; dozens mean a loop that does not end with the outage.
MAX_ACTIVITY_ATTEMPT = 20
MAX_WORKFLOW_TASK_FAILURES = 2
MAX_PENDING_ATTEMPT = 5
MAX_WORKFLOW_TASKS = 40

# -- the stack under test -----------------------------------------------------------------------


# Delivery is the dispatcher's, after the workflows end; a row a killed worker held is due
# again when its lease ends (TICKETING_SMTP_TIMEOUT x 6 + 30 s).
OUTBOX_DRAIN_SECONDS = 240.0
# Past --time-limit, the run is cut off (and fails) after this much more.
OVERRUN_SECONDS = 120.0


async def outbox_drained(engine: AsyncEngine, deadline: float) -> bool:
    """Until no outbox row is queued (sent or failed): True; False at the deadline."""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            async with engine.connect() as connection:
                queued = await connection.scalar(
                    select(func.count()).where(Notification.status == "queued")
                )
            if not queued:
                return True
        await asyncio.sleep(1.0)
    return False


# -- the run --------------------------------------------------------------------------------


class ChaosRun:
    def __init__(self, config: ChaosConfig, home: Path) -> None:
        self.config = config
        self.home = home
        self.rng = random.Random(config.seed)
        self.report = ChaosReport(config=_config_json(config), home=str(home))
        self.clock = Clock(config.time_limit)
        self.stack = Stack(home, self.log_event)
        self.faults = FaultInjector(self.stack, self.clock, self.report.faults)
        self.requests: list[Request] = []
        self.load: Load | None = None

    def log_event(self, kind: str, detail: str, downtime: float | None = None) -> None:
        event = FaultEvent(round(self.clock.since_t0(), 2), kind, detail, downtime)
        self.report.faults.append(event)

    async def run(self) -> ChaosReport:
        config = self.config
        self.requests = plan_requests(config, self.rng)
        faults = plan_faults(config, self.rng)
        await self.stack.start()
        overrun = OVERRUN_SECONDS
        watchdog = asyncio.create_task(
            self._dump_stacks_after(self.clock.remaining() + overrun - 10)
        )
        try:
            await asyncio.wait_for(self._run(faults), max(1.0, self.clock.remaining()) + overrun)
        except TimeoutError:
            self.report.checks.append(Check(
                "the run ended within its time limit",
                f"verdict within --time-limit + {overrun:.0f} s",
                "still waiting; every task's stack was printed to stderr", False,
            ))
        finally:
            watchdog.cancel()
            await self.stack.stop()
        self.report.stats["sink_messages"] = len(self.stack.sink.messages)
        return self.report

    async def _dump_stacks_after(self, seconds: float) -> None:
        """What every task awaits, printed once the run is about to be cut off: a hang
        is then diagnosed from the output rather than guessed at."""
        await asyncio.sleep(max(0.0, seconds))
        print("chaos: past the time limit; the stack of every task follows", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(limit=12, file=sys.stderr)

    async def _run(self, faults: list[Fault]) -> None:
        config, clock, stack = self.config, self.clock, self.stack
        assert stack.client is not None and stack.worker is not None
        load = self.load = Load(stack.client, self.requests, clock, self.rng, config.concurrency)
        reserve = max(60.0, config.time_limit * 0.2)  # for waiting and verifying
        clock.start_load()
        load_deadline = clock.deadline - reserve
        fault_task = asyncio.create_task(self.faults.inject(faults))
        try:
            await asyncio.wait_for(
                load.drive(load_deadline), max(1.0, load_deadline - time.monotonic()) + 30
            )
        except TimeoutError:
            self.log_event("load_timeout", "requests still unanswered 30 s after the load deadline")
        load_done = clock.since_t0()
        try:
            await asyncio.wait_for(fault_task, max(1.0, clock.remaining() - reserve))
        except Exception as error:  # noqa: BLE001 - reported, then verified regardless
            self.log_event("fault_error", repr(error)[:300])
        # Whatever happened, everything is up again for the verification.
        await stack.all_up()
        closed_at = await load.wait_all_closed(clock.deadline - reserve * 0.5)
        stats = self.report.stats
        stats.update(
            workflows_started=sum(r.started for r in self.requests),
            business_requests=config.n,
            duplicate_onboardings=sum(r.duplicate_of is not None for r in self.requests),
            installations=sum(r.workflow_type == "InstallationWorkflow" for r in self.requests),
            load_seconds=round(load_done, 2),
            all_closed_after_seconds=closed_at,
            tickets_per_second=round(config.n / closed_at, 2) if closed_at else None,
            rpc_retries=dict(load.retries),
            worker_spawns=stack.worker.spawns,
            worker_unexpected_exits=stack.worker.unexpected_exits,
        )
        await Verifier(self).verify()
        stats["total_seconds"] = round(time.monotonic() - clock.started_at, 2)


# -- verification -----------------------------------------------------------------------------


@dataclass
class WorkflowFacts:
    workflow_id: str
    status: str
    wft_failed: int = 0
    wft_timed_out: int = 0
    wft_completed: int = 0
    max_activity_attempt: int = 0
    pending_activity_attempt: int = 0
    pending_wft_attempt: int = 0
    max_local_attempt: int = 0
    input: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None


class Verifier:
    def __init__(self, run: ChaosRun) -> None:
        self.run = run
        self.drained = False
        assert run.stack.client is not None and run.load is not None
        self.client = run.stack.client
        self.load = run.load
        self.checks = run.report.checks

    def add(self, name: str, expected: str, observed: str, passed: bool,
            details: list[str] | None = None) -> None:
        self.checks.append(Check(name, expected, observed, passed, (details or [])[:20]))

    async def facts(self, workflow_id: str, result_type: type | None) -> WorkflowFacts:
        handle = self.client.get_workflow_handle(workflow_id, result_type=result_type)
        deadline = self.run.clock.deadline
        try:
            description = await self.load.retrying(
                "describe", lambda: handle.describe(rpc_timeout=RPC_TIMEOUT), deadline
            )
        except Exception as error:  # noqa: BLE001 - e.g. never started: reported
            return WorkflowFacts(workflow_id, "MISSING", error=repr(error)[:200])
        status = description.status.name if description.status else "UNKNOWN"
        facts = WorkflowFacts(workflow_id, status)
        raw = description.raw_description
        facts.pending_activity_attempt = max(
            (pending.attempt for pending in raw.pending_activities), default=0
        )
        if raw.HasField("pending_workflow_task"):
            facts.pending_wft_attempt = raw.pending_workflow_task.attempt
        history = await self.load.retrying(
            "history", lambda: handle.fetch_history(rpc_timeout=RPC_TIMEOUT), deadline
        )
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                with contextlib.suppress(ValueError):
                    facts.input = started_input(event)
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                facts.max_local_attempt = max(
                    facts.max_local_attempt, local_activity_attempt(event)
                )
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                facts.error = failure_text(event.workflow_execution_failed_event_attributes.failure)
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                facts.wft_failed += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                facts.wft_timed_out += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                facts.wft_completed += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                facts.max_activity_attempt = max(
                    facts.max_activity_attempt, event.activity_task_started_event_attributes.attempt
                )
        if result_type is not None and description.status == WorkflowExecutionStatus.COMPLETED:
            try:
                facts.result = await self.load.retrying(
                    "result",
                    lambda: handle.result(rpc_timeout=RPC_TIMEOUT),
                    deadline,
                )
            except Exception as error:  # noqa: BLE001
                facts.error = repr(error)[:200]
        return facts

    async def history_evidence(self, workflow_id: str) -> list[str]:
        """Signals received and activities run (attempt, last failure) by one workflow."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            history = await self.load.retrying(
                "history", lambda: handle.fetch_history(rpc_timeout=RPC_TIMEOUT),
                self.run.clock.deadline,
            )
        except Exception as error:  # noqa: BLE001
            return [f"{workflow_id}: no history ({error!r})"]
        lines: list[str] = []
        scheduled: dict[int, str] = {}
        for event in history.events:
            at = event.event_time.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                name = event.workflow_execution_signaled_event_attributes.signal_name
                lines.append(f"{workflow_id} {at} signal {name}")
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = (
                    event.activity_task_scheduled_event_attributes.activity_type.name
                )
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attributes = event.activity_task_started_event_attributes
                name = scheduled.get(attributes.scheduled_event_id, "?")
                failure = attributes.last_failure.message[:160]
                lines.append(
                    f"{workflow_id} {at} activity {name} attempt {attributes.attempt}"
                    + (f" after failure: {failure}" if failure else "")
                )
        return lines

    async def gather_facts(self, items: list[tuple[str, type | None]]) -> list[WorkflowFacts]:
        slots = asyncio.Semaphore(16)

        async def one(workflow_id: str, result_type: type | None) -> WorkflowFacts:
            async with slots:
                return await self.facts(workflow_id, result_type)

        return list(await asyncio.gather(*(one(wid, rtype) for wid, rtype in items)))

    async def settle_watchers(self, open_numbers: set[str], timeout: float) -> list[str]:
        """Closing a ticket signals its watcher, which then ends: give that a moment."""
        expected = {f"escalation-{number}" for number in open_numbers}
        end = time.monotonic() + min(timeout, max(5.0, self.run.clock.remaining() - 30))
        while True:
            running = await self.load.running_watchers()
            if set(running) == expected or time.monotonic() > end:
                return running
            await asyncio.sleep(1.0)

    def mail_and_sla(
        self, notifications: Sequence[Any], breaches: list[Breach], tickets: list[StoredTicket],
        watchers: list[WorkflowFacts], everything: list[WorkflowFacts], open_numbers: set[str],
    ) -> None:
        def add(name: str, expected: str, observed: str, passed: bool, details: list[str]) -> None:
            self.add(name, expected, observed, passed, details)

        rows = [Row(n.id, str(n.kind), n.recipient, str(n.status), n.attempts, n.reason)
                for n in notifications]
        check_thresholds(add, breaches, self.run.faults.windows)
        check_refused(add, rows, self.run.stack.sink.refused)
        check_failed_rows(add, rows)
        ticket_ids = {row.ticket_number: row.id for row in tickets}
        check_watchers_target(
            add,
            {f.workflow_id: f.input for f in watchers
             if f.workflow_id.removeprefix("escalation-") in open_numbers},
            ticket_ids,
        )
        check_local_activities(add, {f.workflow_id: f.max_local_attempt for f in everything})

    async def verify(self) -> None:
        run, config = self.run, self.run.config
        requests = run.requests
        # The workflows' own word first, the database after: visibility's "none running" can
        # trail the last workflow, and a database read taken before that workflow's final
        # activity committed reported its ticket and its sent notice as missing.
        by_id = {r.workflow_id: r for r in requests}
        result_types: dict[str, type] = {
            "OnboardingWorkflow": TicketInfo, "InstallationWorkflow": InstallationResult,
        }
        business = await self.gather_facts(
            [(r.workflow_id, result_types[r.workflow_type]) for r in requests]
        )
        engine = make_engine(run.stack.postgres.url)
        try:
            self.drained = await outbox_drained(engine, time.monotonic() + OUTBOX_DRAIN_SECONDS)
            # Open tickets' watchers go on recording thresholds, and their notices on being
            # mailed: the outbox and the mail server are read with the worker stopped (SIGTERM,
            # in-flight work finishes), or a notice made between the two reads looks lost.
            assert run.stack.worker is not None
            await run.stack.worker.stop()
            async with engine.connect() as connection:
                tickets = [
                    StoredTicket(format_ticket_number(row.number), *row)
                    for row in await connection.execute(
                        select(
                            Ticket.number, Ticket.tenant_id, Ticket.idempotency_key,
                            Ticket.status, Ticket.id,
                        )
                    )
                ]
                counter = (
                    await connection.execute(select(TicketCounter.name, TicketCounter.value))
                ).all()
                notifications = (
                    await connection.execute(
                        select(
                            Notification.id, Notification.dedupe_key, Notification.kind,
                            Notification.sent_at, Notification.attempts, Notification.recipient,
                            Notification.status, Notification.reason,
                        )
                    )
                ).all()
                breaches = [
                    Breach(*row)
                    for row in await connection.execute(
                        select(
                            SlaBreach.ticket_id, SlaBreach.kind, SlaBreach.escalation_level,
                            SlaBreach.recorded_at,
                        )
                    )
                ]
                duplicate_keys = (
                    await connection.execute(
                        select(Notification.dedupe_key, func.count())
                        .group_by(Notification.dedupe_key)
                        .having(func.count() > 1)
                    )
                ).all()
        finally:
            await engine.dispose()

        # 1. every started workflow completed
        not_started = [r.workflow_id + f" ({r.error})" for r in requests if not r.started]
        unfinished = [
            f"{f.workflow_id}: {f.status}" + (f" ({f.error})" if f.error else "")
            for f in business if f.status != "COMPLETED"
        ]
        unsignalled = [
            f"{r.workflow_id}: {r.error}" for r in requests if r.finish and not r.finished
        ]
        completed = sum(f.status == "COMPLETED" for f in business)
        self.add(
            "every started workflow completed",
            f"{len(requests)} of {len(requests)} COMPLETED",
            f"{completed} of {len(requests)} COMPLETED, {len(not_started)} never started",
            not unfinished and not not_started and not unsignalled,
            not_started + unfinished + unsignalled,
        )

        # 2. exactly one ticket per business request
        expected_keys = {r.business_key for r in requests}
        # Every chaos ticket comes from a business request, so every row has a key.
        key_counts = Counter(row.idempotency_key or "" for row in tickets)
        ticket_by_key = {row.idempotency_key: row.ticket_number for row in tickets}
        problems = [f"{key}: {count} tickets" for key, count in key_counts.items() if count > 1]
        problems += [f"{key}: no ticket" for key in sorted(expected_keys - set(key_counts))]
        problems += [f"{key}: unexpected ticket" for key in sorted(set(key_counts) - expected_keys)]
        result_by_id: dict[str, str] = {}
        for fact in business:
            if fact.status == "COMPLETED" and fact.result is None:
                problems.append(f"{fact.workflow_id}: no result ({fact.error})")
            if fact.result is not None:
                ticket = fact.result if isinstance(fact.result, TicketInfo) else fact.result.ticket
                result_by_id[fact.workflow_id] = ticket.ticket_number
                key = by_id[fact.workflow_id].business_key
                if ticket_by_key.get(key) != ticket.ticket_number:
                    problems.append(
                        f"{fact.workflow_id} returned {ticket.ticket_number}, "
                        f"the ticket of {key} is {ticket_by_key.get(key)}"
                    )
        duplicates = [r for r in requests if r.duplicate_of]
        same = sum(
            result_by_id.get(r.workflow_id) is not None
            and result_by_id.get(r.workflow_id) == result_by_id.get(r.duplicate_of or "")
            for r in duplicates
        )
        self.add(
            "exactly one ticket per business request",
            f"{config.n} tickets for {config.n} requests; {len(duplicates)} duplicate "
            "starts share their original's ticket",
            f"{len(tickets)} tickets, {len(expected_keys & set(key_counts))} requests with one; "
            f"{same}/{len(duplicates)} duplicates share it",
            not problems and len(tickets) == config.n and same == len(duplicates),
            problems,
        )

        # 3. ticket numbers 1..N, no gap, no duplicate
        numbers = sorted(row.number for row in tickets)
        number_counts = Counter(numbers)
        doubled = sorted(number for number, count in number_counts.items() if count > 1)
        gaps = sorted(set(range(1, config.n + 1)) - set(numbers))
        counter_values = {name: value for name, value in counter}
        self.add(
            "ticket numbers are 1..N, no gap, no duplicate",
            f"TKT-000001..TKT-{config.n:06d}; counter = {config.n}",
            f"{len(set(numbers))} distinct, min {numbers[0] if numbers else '-'}, max "
            f"{numbers[-1] if numbers else '-'}, {len(gaps)} gaps, {len(doubled)} duplicates; "
            f"counter {counter_values}",
            numbers == list(range(1, config.n + 1))
            and list(counter_values.values()) == [config.n],
            [f"gap {g}" for g in gaps] + [f"duplicate {d}" for d in doubled],
        )

        # 4. ticket states follow the requests (installations resolved/closed, onboardings open)
        status_by_key = {row.idempotency_key: row.status for row in tickets}
        wrong_status = []
        for r in requests:
            want = {"complete": "resolved", "cancel": "closed"}.get(r.finish or "", "open")
            got = status_by_key.get(r.business_key)
            if got is not None and got != want:
                wrong_status.append(f"{r.workflow_id}: ticket {got}, expected {want}")
        self.add(
            "ticket status follows each request",
            "onboarding open; installation resolved (complete) / closed (cancel)",
            f"{len(wrong_status)} mismatches",
            not wrong_status,
            wrong_status,
        )

        # 5. every open ticket has exactly one running EscalationWorkflow
        open_numbers = {row.ticket_number for row in tickets if row.status not in DONE_STATUSES}
        running = await self.settle_watchers(open_numbers, timeout=60)
        running_counts = Counter(running)
        expected_ids = {f"escalation-{number}" for number in open_numbers}
        missing = sorted(expected_ids - set(running_counts))
        extra = sorted(set(running_counts) - expected_ids)
        twice = sorted(wid for wid, count in running_counts.items() if count > 1)
        watcher_ids = sorted(f"escalation-{row.ticket_number}" for row in tickets)
        watchers = await self.gather_facts([(wid, None) for wid in watcher_ids])
        described_missing = [
            f.workflow_id for f in watchers
            if f.workflow_id in expected_ids and f.status != "RUNNING"
        ]
        self.add(
            "every open ticket has exactly one running EscalationWorkflow",
            f"{len(open_numbers)} open tickets ↔ {len(open_numbers)} running watchers",
            f"{len(running)} running ({len(running_counts)} ids); {len(missing)} missing, "
            f"{len(twice)} twice, {len(extra)} on resolved/closed tickets",
            not missing and not twice and not described_missing and not extra,
            [f"missing {m}" for m in missing + described_missing]
            + [f"twice {t}" for t in twice]
            + [f"still running for a done ticket {e}" for e in extra],
        )
        if extra:
            # Evidence for a watcher that outlived its ticket: did it ever hear of the change?
            request_by_key = {r.business_key: r for r in requests if not r.duplicate_of}
            key_by_number = {row.ticket_number: row.idempotency_key or "" for row in tickets}
            for watcher_id in extra[:5]:
                number = watcher_id.removeprefix("escalation-")
                request = request_by_key.get(key_by_number.get(number, ""))
                lines = await self.history_evidence(watcher_id)
                if request is not None:
                    lines += await self.history_evidence(request.workflow_id)
                self.checks[-1].details += [f"{watcher_id}: {line}" for line in lines]
                run.report.stats.setdefault("evidence", {})[watcher_id] = lines
        failed_watchers = [
            f"{f.workflow_id}: {f.status}" for f in watchers
            if f.status not in ("RUNNING", "COMPLETED")
        ]
        self.add(
            "no watcher failed, terminated or missing",
            f"{len(tickets)} watchers RUNNING (open) or COMPLETED (done)",
            f"{len(failed_watchers)} in another state",
            not failed_watchers,
            failed_watchers,
        )

        # 6. no notification sent twice. Delivery is at least once: a worker killed (or a
        # database lost) after the mail left but before `sent_at` committed sends it again.
        # Such a repeat is allowed only if it is visible (attempts > 1 on its row) and carries
        # the same Message-ID (receivers drop the copy); any other repeat is a failure.
        sent = [row for row in notifications if row.sent_at is not None]
        # Rows refused for good end `failed` (their own check below); any other row unsent is
        # a notice lost.
        unsent = [
            row.dedupe_key for row in notifications
            if row.sent_at is None and not (row.status == "failed" and row.recipient
                                            and is_refused(row.recipient))
        ]
        # Once the outbox was seen empty, a row still queued when the worker stopped was made
        # after that (a watcher's next threshold): not yet due a delivery, counted apart.
        queued_at_stop = {row.dedupe_key for row in notifications if row.status == "queued"}
        if self.drained:
            unsent = [key for key in unsent if key not in queued_at_stop]
        # A message is its recipient and Message-ID: a resend renders its subject again, from
        # the ticket as it is by then, but keeps the Message-ID receivers drop copies by.
        messages = run.stack.sink.messages
        deliveries = Counter((to, message_id) for to, _subject, message_id in messages)
        retried_ids = tuple(f"<notification-{row.id}." for row in sent if row.attempts > 1)
        sent_ids = tuple(f"<notification-{row.id}." for row in sent)
        repeats = [(key, count) for key, count in deliveries.items() if count > 1]
        crash_window = [f"{to} {message_id} x{count} (attempts>1, same Message-ID)"
                        for (to, message_id), count in repeats
                        if message_id.startswith(retried_ids)]
        delivered_twice = [f"{to} {message_id} x{count}"
                           for (to, message_id), count in repeats
                           if not message_id.startswith(retried_ids)]
        # Mail that left for a row the outbox does not hold as sent: bookkeeping lost.
        delivered_unsent = [f"delivered but not sent: {to} {message_id}"
                            for to, message_id in deliveries
                            if not message_id.startswith(sent_ids)]
        distinct_delivered = len(deliveries)
        created = sum(row.kind == "ticket_created" for row in notifications)
        self.add(
            "no notification sent twice (outbox + SMTP sink)",
            f"1 outbox row per dedupe key ({config.n} ticket_created); each sent; no repeat "
            "except a visible crash-window resend with the same Message-ID",
            f"{len(notifications)} rows ({created} ticket_created), {len(duplicate_keys)} keys "
            f"doubled; {len(sent)} sent, {len(unsent)} unsent, {len(queued_at_stop)} queued "
            f"when the worker stopped; {distinct_delivered} distinct "
            f"delivered, {len(delivered_twice)} repeated silently, {len(crash_window)} "
            "crash-window resends",
            not duplicate_keys and not delivered_twice and not unsent and not delivered_unsent
            and created == config.n and distinct_delivered == len(sent),
            [f"doubled key {k}" for k, _ in duplicate_keys] + delivered_twice + crash_window
            + delivered_unsent + [f"unsent {k}" for k in unsent],
        )

        # 7. no workflow stuck in a retry loop
        everything = business + watchers
        looping = [
            f"{f.workflow_id}: wft_failed={f.wft_failed} max_attempt={f.max_activity_attempt} "
            f"pending_attempt={f.pending_activity_attempt} pending_wft={f.pending_wft_attempt} "
            f"wft_completed={f.wft_completed}"
            for f in everything
            if f.wft_failed > MAX_WORKFLOW_TASK_FAILURES
            or f.max_activity_attempt > MAX_ACTIVITY_ATTEMPT
            or f.pending_activity_attempt > MAX_PENDING_ATTEMPT
            or f.pending_wft_attempt > MAX_PENDING_ATTEMPT
            or f.wft_completed > MAX_WORKFLOW_TASKS
        ]

        def peak(attr: str) -> int:
            return max((getattr(f, attr) for f in everything), default=0)

        self.add(
            "no workflow stuck in a retry loop",
            f"per workflow: task failures ≤ {MAX_WORKFLOW_TASK_FAILURES}, activity attempt ≤ "
            f"{MAX_ACTIVITY_ATTEMPT}, pending attempt ≤ {MAX_PENDING_ATTEMPT}, tasks ≤ "
            f"{MAX_WORKFLOW_TASKS}",
            f"{len(everything)} workflows; peaks: task failures {peak('wft_failed')}, activity "
            f"attempt {peak('max_activity_attempt')}, pending attempt "
            f"{peak('pending_activity_attempt')}/{peak('pending_wft_attempt')}, tasks "
            f"{peak('wft_completed')}; {sum(f.wft_timed_out for f in everything)} task "
            f"timeouts, {sum(f.wft_failed for f in everything)} task failures in all",
            not looping,
            looping,
        )
        self.mail_and_sla(notifications, breaches, tickets, watchers, everything, open_numbers)
        run.report.stats.update(
            workflow_task_timeouts=sum(f.wft_timed_out for f in everything),
            workflow_task_failures=sum(f.wft_failed for f in everything),
            workflows_with_task_failures=[
                f"{f.workflow_id}: {f.wft_failed}" for f in everything if f.wft_failed
            ][:20],
            open_tickets=len(open_numbers),
            notification_crash_window_resends=len(crash_window),
        )


def failure_text(failure: Any) -> str:
    """A failure and its causes on one line: why a workflow failed, for the report."""
    parts: list[str] = []
    while failure is not None and failure.message and len(parts) < 4:
        kind = failure.application_failure_info.type if failure.HasField(
            "application_failure_info") else ""
        parts.append(f"{kind}: {failure.message}"[:200] if kind else failure.message[:200])
        failure = failure.cause if failure.HasField("cause") else None
    return " <- ".join(parts)


# -- entry points -----------------------------------------------------------------------------


async def run_chaos(config: ChaosConfig) -> ChaosReport:
    """Run the whole scenario under `config.home` (or a fresh /tmp/chaos-*) and verify."""
    made_home = config.home is None
    # Short path: PostgreSQL's unix socket lives in the datadir (~107 characters at most).
    home = Path(tempfile.mkdtemp(prefix="chaos-", dir="/tmp")) if made_home else config.home
    assert home is not None
    home.mkdir(parents=True, exist_ok=True)
    run = ChaosRun(config, home.resolve())
    try:
        report = await run.run()
    finally:
        if made_home and not config.keep_home:
            shutil.rmtree(home, ignore_errors=True)
    if config.results_path is not None:
        config.results_path.parent.mkdir(parents=True, exist_ok=True)
        config.results_path.write_text(json.dumps(report.to_json(), indent=2, default=str))
    return report


def parse_args(argv: list[str] | None = None) -> ChaosConfig:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="business requests (tickets)")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--home", type=Path, default=None, help="default: fresh /tmp/chaos-*")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds, whole run")
    parser.add_argument("--worker-kills", type=int, default=4)
    parser.add_argument("--pg-restarts", type=int, default=2)
    parser.add_argument("--temporal-restarts", type=int, default=2)
    parser.add_argument("--smtp-outages", type=int, default=1)
    parser.add_argument("--smtp-slowdowns", type=int, default=1)
    parser.add_argument("--refused-ratio", type=float, default=0.1,
                        help="share of customers whose address gets 550")
    parser.add_argument("--load-seconds", type=float, default=None,
                        help="window the starts are spread over (default N/6, at least 15)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--keep-home", action="store_true")
    args = parser.parse_args(argv)
    return ChaosConfig(
        n=args.n,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6),
        home=args.home,
        time_limit=args.time_limit,
        worker_kills=args.worker_kills,
        pg_restarts=args.pg_restarts,
        temporal_restarts=args.temporal_restarts,
        smtp_outages=args.smtp_outages,
        smtp_slowdowns=args.smtp_slowdowns,
        refused_ratio=args.refused_ratio,
        load_seconds=args.load_seconds,
        concurrency=args.concurrency,
        results_path=args.results,
        keep_home=args.keep_home,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    print(f"chaos run: n={config.n} seed={config.seed} time limit {config.time_limit:.0f}s",
          flush=True)
    report = asyncio.run(run_chaos(config))
    print_report(report)
    if config.results_path is not None:
        print(f"results: {config.results_path}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
