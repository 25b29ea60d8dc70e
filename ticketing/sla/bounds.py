"""What callers from outside the process are held to: a `now` near the database clock."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.errors import InvalidInput
from ticketing.sla.repository import statement_timestamp

# How far a workflow's `now` may be from the database clock (TICKETING_MAX_CLOCK_SKEW).
DEFAULT_MAX_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class CallerBounds:
    """What a caller from outside the process (a workflow) is held to: its `now` near the
    database clock, and a watcher to the one ticket number its workflow id names."""

    max_skew: timedelta | None = DEFAULT_MAX_SKEW
    ticket_number: str | None = None


# How long a measured offset between this host's clock and the database's is trusted: the
# check then costs no round trip, and a stepped host clock is caught within this long.
CLOCK_OFFSET_TTL = 60.0
_offsets: weakref.WeakKeyDictionary[object, tuple[float, timedelta]] = weakref.WeakKeyDictionary()


async def database_now(session: AsyncSession) -> datetime:
    """The database clock, from this host's clock and an offset measured once a minute per
    engine (a statement every threshold cost the watcher a round trip each)."""
    engine = session.get_bind()
    measured = _offsets.get(engine)
    if measured is None or time.monotonic() - measured[0] > CLOCK_OFFSET_TTL:
        before = datetime.now(UTC)
        stamp = await statement_timestamp(session)
        after = datetime.now(UTC)
        measured = (time.monotonic(), stamp - (before + (after - before) / 2))
        _offsets[engine] = measured
    return datetime.now(UTC) + measured[1]


async def check_clock(session: AsyncSession, now: datetime | None, bound: timedelta | None) -> None:
    """Refuse a caller's `now` further than `bound` from the database clock: a forged 2099
    would record every breach and push due dates decades out."""
    if now is None or bound is None:
        return
    if abs(now - await database_now(session)) > bound:
        away = f"is more than {bound.total_seconds():g} s from the database clock"
        raise InvalidInput("now", now.isoformat(), away)
