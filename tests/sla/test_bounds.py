"""A caller's `now` is held to the database clock without a statement per call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketing.core.errors import InvalidInput
from ticketing.sla import bounds
from ticketing.sla.bounds import check_clock


async def test_the_offset_is_measured_once_and_still_refuses_a_forged_now(
    engine: AsyncEngine, committed: async_sessionmaker[AsyncSession]
) -> None:
    asked: list[str] = []

    def seen(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "statement_timestamp" in statement:
            asked.append(statement)

    bounds._offsets.pop(engine.sync_engine, None)
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        bound = timedelta(minutes=5)
        async with committed() as session:
            for _ in range(5):
                await check_clock(session, datetime.now(UTC), bound)
            with pytest.raises(InvalidInput) as refused:
                await check_clock(session, datetime(2099, 1, 1, tzinfo=UTC), bound)
            with pytest.raises(InvalidInput):
                await check_clock(session, datetime.now(UTC) - timedelta(minutes=6), bound)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert refused.value.field == "now"
    assert len(asked) == 1
    # The offset is this host's clock against the database's: both read the same clock here.
    offset = bounds._offsets[engine.sync_engine][1]
    assert abs(offset) < timedelta(seconds=1)
