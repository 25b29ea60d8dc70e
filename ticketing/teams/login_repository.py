"""All SQL about desk logins, sessions and the sign-in throttle."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.teams.logins import AgentLogin, DeskSession


async def login_by_email(session: AsyncSession, email: str) -> AgentLogin | None:
    query = select(AgentLogin).where(AgentLogin.email == email)
    return (await session.scalars(query)).first()


async def session_with_login(
    session: AsyncSession, id_hash: bytes
) -> tuple[DeskSession, AgentLogin] | None:
    query = (
        select(DeskSession, AgentLogin)
        .join(AgentLogin, AgentLogin.id == DeskSession.login_id)
        .where(DeskSession.id_hash == id_hash)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def touch_session(session: AsyncSession, id_hash: bytes, now: datetime) -> None:
    await session.execute(
        update(DeskSession).where(DeskSession.id_hash == id_hash).values(last_seen_at=now)
    )


async def delete_session(session: AsyncSession, id_hash: bytes) -> None:
    await session.execute(delete(DeskSession).where(DeskSession.id_hash == id_hash))


_LOCKED = text(
    "SELECT locked_until FROM desk_login_throttle WHERE email_hash = :key AND locked_until > :now"
)

# One failure: a new window when the last one is over, else one more in it; the failure that
# fills the window locks the email from now on; a few forgotten rows go with it.
_FAIL = text(
    """
WITH recorded AS (
    INSERT INTO desk_login_throttle AS t (email_hash, window_start, failures, locked_until)
    VALUES (:key, :now, 1, CASE WHEN :max <= 1 THEN CAST(:until AS timestamptz) END)
    ON CONFLICT (email_hash) DO UPDATE SET
        window_start = CASE WHEN t.window_start <= :since THEN :now ELSE t.window_start END,
        failures = CASE WHEN t.window_start <= :since THEN 1 ELSE t.failures + 1 END,
        locked_until = CASE
            WHEN t.window_start > :since AND t.failures + 1 >= :max THEN :until
            ELSE t.locked_until END
    RETURNING failures
), pruned AS (
    DELETE FROM desk_login_throttle WHERE email_hash IN (
        SELECT email_hash FROM desk_login_throttle
        WHERE window_start <= :since AND (locked_until IS NULL OR locked_until <= :now)
          AND email_hash <> :key
        LIMIT 16)
)
SELECT failures FROM recorded
"""
)
_CLEAR = text("DELETE FROM desk_login_throttle WHERE email_hash = :key")


async def locked(session: AsyncSession, key: bytes, now: datetime) -> bool:
    return (await session.execute(_LOCKED, {"key": key, "now": now})).first() is not None


async def record_failure(
    session: AsyncSession,
    key: bytes,
    now: datetime,
    *,
    window: timedelta,
    attempts: int,
    lock: timedelta,
) -> int:
    """Count a failed sign-in of `key`; the failures in its window so far."""
    params = {"key": key, "now": now, "since": now - window, "max": attempts, "until": now + lock}
    return int((await session.execute(_FAIL, params)).scalar_one())


async def clear_failures(session: AsyncSession, key: bytes) -> None:
    await session.execute(_CLEAR, {"key": key})
