"""Checks on the SLA thresholds: each recorded once, and recorded while the faults were on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from chaos.report import Add
from chaos.verify.snapshot import Breach


def check_thresholds(
    add: Add, breaches: Sequence[Breach], fault_windows: Sequence[tuple[float, float]]
) -> None:
    keys = Counter((b.ticket_id, b.kind, b.escalation_level) for b in breaches)
    twice = [f"{t} {kind} L{level} x{n}" for (t, kind, level), n in keys.items() if n > 1]
    add(
        "each SLA threshold recorded once",
        "one row per ticket, threshold and level",
        f"{len(breaches)} thresholds on {len({b.ticket_id for b in breaches})} tickets; "
        f"{len(twice)} recorded twice",
        not twice,
        twice,
    )
    during = [
        b
        for b in breaches
        if any(start <= b.recorded_at.timestamp() <= end for start, end in fault_windows)
    ]
    kinds = Counter("warning" if "warning" in b.kind else "breach" for b in during)
    escalated = sum(b.escalation_level > 1 for b in breaches)
    add(
        "thresholds recorded during the faults",
        "warnings and breaches recorded while a fault is on; escalations fire",
        f"{len(during)} during faults ({kinds['warning']} warnings, {kinds['breach']} "
        f"breaches); {escalated} thresholds at level 2+ in all",
        bool(during) and escalated > 0,
        [f"{b.kind} L{b.escalation_level} at {b.recorded_at:%H:%M:%S}" for b in during[:10]],
    )
