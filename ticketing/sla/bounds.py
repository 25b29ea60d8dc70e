"""What callers from outside the process are held to: a `now` near the database clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.errors import InvalidInput

# How far a workflow's `now` may be from the database clock (TICKETING_MAX_CLOCK_SKEW).
DEFAULT_MAX_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class CallerBounds:
    """What a caller from outside the process (a workflow) is held to: its `now` near the
    database clock, and a watcher to the one ticket number its workflow id names."""

    max_skew: timedelta | None = DEFAULT_MAX_SKEW
    ticket_number: str | None = None


async def check_clock(session: AsyncSession, now: datetime | None, bound: timedelta | None) -> None:
    """Refuse a caller's `now` further than `bound` from the database clock: a forged 2099
    would record every breach and push due dates decades out."""
    if now is None or bound is None:
        return
    database_now = (await session.execute(text("SELECT statement_timestamp()"))).scalar_one()
    if abs(now - database_now) > bound:
        away = f"is more than {bound.total_seconds():g} s from the database clock"
        raise InvalidInput("now", now.isoformat(), away)
