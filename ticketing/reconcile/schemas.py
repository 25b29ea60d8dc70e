"""What the reconciler checks, as data: the pages it sweeps and what it repaired."""

from __future__ import annotations

from pydantic import BaseModel

from ticketing.core.fields import Contract


class WatcherSweep(Contract):
    # Tickets numbered above this are swept next (keyset paging through the table).
    after_number: int = 0
    limit: int = 200
    # Done tickets changed within this window get their watchers woken (a lost signal);
    # older done tickets were settled by earlier sweeps.
    done_within_seconds: float = 86_400.0


class WatcherSweepResult(BaseModel):
    next_after: int | None
    checked: int = 0
    started: int = 0
    replaced: int = 0
    woken: int = 0


class OutboxSweep(Contract):
    # Rows queued longer ago than this, still unsent, are handed over again.
    older_than_seconds: float = 60.0
    max_attempts: int = 10
    limit: int = 500


class ReconcileInput(Contract):
    watchers: WatcherSweep = WatcherSweep()
    outbox: OutboxSweep = OutboxSweep()


class ReconcileReport(BaseModel):
    checked: int = 0
    started: int = 0
    replaced: int = 0
    woken: int = 0
    notices_handed_over: int = 0
    auto_closed: int = 0
    # Outages with an update not yet sent to everyone whose OutageWorkflow was not running.
    outage_runs_started: int = 0
