"""Runs every check in order once the load is over, and adds their figures to the stats."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from chaos.load import Load
from chaos.mail_load import FlagSampler, flagged_message_ids
from chaos.plan import TENANTS, ChaosConfig, Request
from chaos.plan_mail import MailMessage
from chaos.processes import Stack
from chaos.report import ChaosReport, Check
from chaos.verify.facts import WorkflowReader
from chaos.verify.intake import (
    check_imap_flags,
    check_mail_stored_once,
    check_mail_tickets,
    check_processes,
)
from chaos.verify.mail import check_failed_rows, check_refused, check_sent_once, outbox_rows
from chaos.verify.reconciler import check_reconciler_pass, wait_reconciler_pass
from chaos.verify.sla import check_thresholds
from chaos.verify.snapshot import StoredTicket, read_snapshot, reconciler_repairs
from chaos.verify.tickets import (
    channel_of,
    check_numbers,
    check_one_ticket_per_request,
    check_status,
    open_ticket_numbers,
)
from chaos.verify.watchers import (
    check_watchers_healthy,
    check_watchers_running,
    check_watchers_target,
    watcher_of,
)
from chaos.verify.workflows import check_completed, check_local_activities, check_no_retry_loop
from ticketing.temporal import names
from ticketing.temporal.schemas import InstallationResult, TicketInfo

ESCALATION_AGE = 60.0  # seconds after the load started
# A pass is due every 20 s (chaos/processes.py); one delayed by a killed worker waits out the
# sweep's heartbeat timeout (60 s) and the schedule skips while it runs.
RECONCILER_WAIT = 180.0

RESULT_TYPES: dict[str, type] = {
    names.ONBOARDING_WORKFLOW: TicketInfo, names.INSTALLATION_WORKFLOW: InstallationResult,
}


class Verifier:
    """Each check adds one row (`Check`) to the report, in the order the README's table lists."""

    def __init__(
        self, config: ChaosConfig, requests: list[Request], mails: list[MailMessage],
        load: Load, stack: Stack, fault_windows: list[tuple[float, float]],
        report: ChaosReport, sampler: FlagSampler, *, quiet_since: datetime | None = None,
    ) -> None:
        self.config = config
        self.requests = requests
        self.mails = mails
        self.sampler = sampler
        self.load = load
        self.stack = stack
        self.fault_windows = fault_windows
        self.report = report
        self.reader = WorkflowReader(load)
        self.checks = report.checks
        # When the faults and the load were over (wall clock); default: now.
        self.quiet_since = quiet_since or datetime.now(UTC)

    def add(self, name: str, expected: str, observed: str, passed: bool,
            details: list[str] | None = None) -> None:
        self.checks.append(Check(name, expected, observed, passed, (details or [])[:20]))

    async def settle_watchers(self, open_numbers: set[str], timeout: float) -> list[str]:
        """Closing a ticket signals its watcher, which then ends: give that a moment."""
        expected = {watcher_of(number) for number in open_numbers}
        end = time.monotonic() + min(timeout, max(5.0, self.load.clock.remaining() - 30))
        while True:
            running = await self.load.running_watchers()
            if set(running) == expected or time.monotonic() > end:
                return running
            await asyncio.sleep(1.0)

    async def add_evidence(self, extra: list[str], tickets: Sequence[StoredTicket]) -> None:
        """For a watcher that outlived its ticket: did it ever hear of the change?"""
        request_by_key = {r.business_key: r for r in self.requests
                          if not r.duplicate_of and r.door == "workflow"}
        key_by_number = {row.ticket_number: row.idempotency_key or "" for row in tickets}
        for watcher_id in extra[:5]:
            number = watcher_id.removeprefix(names.WATCHER_PREFIX)
            request = request_by_key.get(key_by_number.get(number, ""))
            lines = await self.reader.history_evidence(watcher_id)
            if request is not None:
                lines += await self.reader.history_evidence(request.workflow_id)
            self.checks[-1].details += [f"{watcher_id}: {line}" for line in lines]
            self.report.stats.setdefault("evidence", {})[watcher_id] = lines

    async def wait_flagged(self, timeout: float) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """Until every message appended to IMAP is flagged done (the poller runs in the
        workers, which the snapshot stops): (appended, flagged) Message-IDs per tenant."""
        assert self.stack.imap is not None
        appended: dict[str, set[str]] = {tenant: set() for tenant in TENANTS}
        for mail in self.mails:
            if any(d.door == "imap" and d.accepted for d in mail.deliveries):
                appended[mail.tenant_id].add(mail.message_id)
        end = time.monotonic() + timeout
        while True:
            flagged: dict[str, set[str]] = {tenant: set() for tenant in TENANTS}
            with contextlib.suppress(Exception):  # reported as unflagged if it lasts
                for tenant in TENANTS:
                    flagged[tenant] = await asyncio.to_thread(
                        flagged_message_ids, self.stack.imap, tenant
                    )
            if all(keys <= flagged[t] for t, keys in appended.items()) or time.monotonic() > end:
                return appended, flagged
            await asyncio.sleep(1.0)

    async def verify(self) -> None:
        requests = [r for r in self.requests if r.door == "workflow"]
        n, add = self.config.n, self.add
        total = n + len(self.mails)
        # The workflows' own word first, the database after: visibility's "none running" can
        # trail the last workflow, and a database read taken before that workflow's final
        # activity committed reported its ticket and its sent notice as missing.
        phases = self.report.stats.setdefault("verify_seconds", {})
        began = time.monotonic()
        business = await self.reader.gather(
            [(r.workflow_id, RESULT_TYPES[r.workflow_type]) for r in requests]
        )
        phases["workflows"] = round(time.monotonic() - began, 1)
        appended, flagged = await self.wait_flagged(timeout=60)
        phases["imap_flags"] = round(time.monotonic() - began, 1)
        api = self.stack.api
        assert api is not None
        check_processes(add, self.stack.processes, self.config.api_workers, len(api.children()))
        # The first tickets old enough for a level-2 threshold (resolution breach at 30 s, the
        # next level's warning 15 s later): a small run can otherwise end before any fires.
        await asyncio.sleep(max(0.0, self.load.clock.t0 + ESCALATION_AGE - time.monotonic()))
        # The backstop of a watcher start lost with a killed process, before the snapshot
        # stops the workers that run it (chaos/verify/reconciler.py).
        waited = time.monotonic()
        reconciled = await wait_reconciler_pass(
            self.load, self.quiet_since,
            timeout=max(5.0, min(RECONCILER_WAIT, self.load.clock.remaining() - 60)),
        )
        waited = time.monotonic() - waited
        phases["reconciler_pass"] = round(time.monotonic() - began, 1)
        db = await read_snapshot(self.stack.postgres.url, self.stack.stop_processes)
        phases["outbox_drained_and_read"] = round(time.monotonic() - began, 1)
        tickets = db.tickets

        check_completed(add, requests, business)
        check_one_ticket_per_request(
            add, n, self.requests, business,
            [row for row in tickets if channel_of(row) != "email"],
        )
        check_numbers(add, total, tickets, db.counter)
        check_status(add, self.requests, tickets)
        check_mail_stored_once(add, self.mails, db.mails, tickets)
        check_mail_tickets(add, self.mails, db.mails, tickets)
        check_imap_flags(add, appended, flagged, self.sampler.early, self.sampler.samples)

        check_reconciler_pass(add, self.quiet_since, reconciled, waited)
        open_numbers = open_ticket_numbers(tickets)
        running = await self.settle_watchers(open_numbers, timeout=60)
        phases["watchers_settled"] = round(time.monotonic() - began, 1)
        watchers = await self.reader.gather(
            [(wid, None) for wid in sorted(watcher_of(row.ticket_number) for row in tickets)]
        )
        extra = check_watchers_running(add, open_numbers, running, watchers)
        if extra:
            await self.add_evidence(extra, tickets)
        check_watchers_healthy(add, tickets, watchers)

        crash_window_resends = check_sent_once(
            add, total, db.notifications, db.duplicate_keys, self.stack.sink.messages, db.drained
        )
        everything = business + watchers
        check_no_retry_loop(add, everything)
        rows = outbox_rows(db.notifications)
        check_thresholds(add, db.breaches, self.fault_windows)
        check_refused(add, rows, self.stack.sink.refused)
        check_failed_rows(add, rows)
        check_watchers_target(
            add,
            {f.workflow_id: f.input for f in watchers
             if f.workflow_id.removeprefix(names.WATCHER_PREFIX) in open_numbers},
            {row.ticket_number: row.id for row in tickets},
        )
        check_local_activities(add, {f.workflow_id: f.max_local_attempt for f in everything})
        self.report.stats.update(
            workflow_task_timeouts=sum(f.wft_timed_out for f in everything),
            workflow_task_failures=sum(f.wft_failed for f in everything),
            workflows_with_task_failures=[
                f"{f.workflow_id}: {f.wft_failed}" for f in everything if f.wft_failed
            ][:20],
            open_tickets=len(open_numbers),
            reconciler_repairs=reconciler_repairs(self.stack.home),
            notification_crash_window_resends=crash_window_resends,
        )
