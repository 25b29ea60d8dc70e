"""Per-process sliding-window rate limits for the public tracking lookups."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    attempts: int
    seconds: float


@dataclass(frozen=True)
class TrackingLimits:
    """Lookups (POST /track) allowed per window; every attempt counts, found or not."""

    per_address: Limit = Limit(30, 600)
    per_email: Limit = Limit(10, 900)
    per_number: Limit = Limit(10, 900)


@dataclass
class SlidingWindow:
    """Remembers attempt times per key; bounded by forgetting keys idle past the window."""

    limit: Limit
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        """Count an attempt for `key`; False once the window already holds `attempts`."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.limit.seconds:
            hits.popleft()
        allowed = len(hits) < self.limit.attempts
        if allowed:
            hits.append(now)
        if len(self._hits) > self.max_keys:
            self._forget_idle(now)
        return allowed

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.limit.seconds]
        for key in idle:
            del self._hits[key]
        if len(self._hits) > self.max_keys:
            # Still full of live keys (a flood of distinct addresses): start over rather than
            # grow without bound; the per-number and per-email windows still hold.
            self._hits.clear()


class LookupLimiter:
    """One window per client address, per email and per ticket number."""

    def __init__(self, limits: TrackingLimits, clock: Callable[[], float] = time.monotonic):
        self.address = SlidingWindow(limits.per_address, clock)
        self.email = SlidingWindow(limits.per_email, clock)
        self.number = SlidingWindow(limits.per_number, clock)

    def allow(self, *, address: str, email: str, number: str) -> bool:
        # Each window counts the attempt even when another refuses it: a flood from many
        # addresses at one ticket still spends that ticket's window.
        results = (
            self.address.allow(address),
            self.email.allow(email.strip().lower()[:254]),
            self.number.allow(number.strip().upper()[:32]),
        )
        return all(results)
