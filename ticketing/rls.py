"""Row-level security scope: each transaction carries its principal's tenant to PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import PoolProxiedConnection, PoolResetState

from ticketing.auth.principal import Principal, Role

SETTING = "ticketing.tenant_id"
# What the policies of migration 0003 read: '*' sees everything, '' nothing.
EVERYTHING = "*"
NOTHING = ""
_WANT = "ticketing_rls_scope"  # session.info: the scope its transactions must run under
_HAVE = "ticketing_rls_scope"  # connection.info: the scope the connection holds now
_BEFORE = "ticketing_rls_before"  # connection.info: what a rollback of this transaction restores


def rls_scope(principal: Principal) -> str:
    """The value the policies compare rows against, for this principal."""
    if principal.sees_everything or principal.role is Role.SYSTEM:
        # The watcher is scoped to one ticket by the application; the database wall is the
        # tenant, which a ticket-scoped principal does not name.
        return EVERYTHING
    if principal.role is Role.PARTNER_AGENT:
        return f"partner:{principal.partner_id}"
    return principal.tenant_id or NOTHING


def bind_scope(session: AsyncSession | Session, principal: Principal) -> None:
    """Every transaction of `session` from now on runs under the principal's scope."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info[_WANT] = rls_scope(principal)


class ScopedSession(Session):
    """A Session whose transactions set the RLS scope before their first statement."""


@event.listens_for(ScopedSession, "after_begin")
def _apply_scope(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    """Sent only when the connection holds another scope than the transaction needs.

    A session-level `set_config` survives the commit, so a pooled connection that served this
    tenant last needs no statement at all (the create path gains no round trip); a rollback puts
    PostgreSQL back to the previous value and the hooks below follow it. An unscoped session on
    a scoped connection resets it to NOTHING: a forgotten bind fails closed.
    """
    want = session.info.get(_WANT, NOTHING)
    have = connection.info.get(_HAVE, NOTHING)
    if want == have:
        return
    statement = text("SELECT set_config(:name, :value, false)")
    connection.execute(statement, {"name": SETTING, "value": want})
    connection.info[_BEFORE] = have
    connection.info[_HAVE] = want


def install(engine_sync: Any) -> None:
    """Track commits and rollbacks of `engine_sync` (an AsyncEngine's `sync_engine`)."""
    event.listen(engine_sync, "commit", _committed)
    event.listen(engine_sync, "rollback", _rolled_back)
    event.listen(engine_sync.pool, "reset", _reset)


def _committed(connection: Connection) -> None:
    connection.info.pop(_BEFORE, None)


def _rolled_back(connection: Connection) -> None:
    _restore(connection.info)


def _reset(_dbapi: Any, record: PoolProxiedConnection, _state: PoolResetState) -> None:
    # Returned to the pool with its transaction open: the pool rolls it back.
    _restore(record.info)


def _restore(info: dict[Any, Any]) -> None:
    if _BEFORE in info:
        info[_HAVE] = info.pop(_BEFORE)
