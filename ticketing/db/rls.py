"""Row-level security scope: each transaction carries its principal's tenant to PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.pool import PoolProxiedConnection, PoolResetState
from sqlalchemy.util import await_only

from ticketing.auth.principal import Principal
from ticketing.auth.scope import ticket_scope
from ticketing.db.errors import lost_connection

SETTING = "ticketing.tenant_id"
# What the policies of migrations 0003 and 0009 read: '*' sees everything, '' nothing;
# 'number:<n>' and 'ticket:<uuid>' see one ticket and its customer, read only.
EVERYTHING = "*"
NOTHING = ""
_WANT = "ticketing_rls_scope"  # session.info: the scope its transactions must run under
_HAVE = "ticketing_rls_scope"  # connection.info: the scope the connection holds now
_BEFORE = "ticketing_rls_before"  # connection.info: what a rollback of this transaction restores
_SET = "SELECT set_config($1, $2, false)"


def rls_scope(principal: Principal) -> str:
    """The value the policies compare rows against, for this principal: the tenant or partner
    part of its ticket scope (the database wall; narrower parts are the application's)."""
    scope = ticket_scope(principal)
    if scope.partner_id is not None:
        return f"partner:{scope.partner_id}"
    if scope.tenant_id is not None:
        return scope.tenant_id
    if scope.everything or scope.ticket_id is not None:
        # The watcher is scoped to one ticket by the application; the database wall is the
        # tenant, which a ticket-scoped principal does not name.
        return EVERYTHING
    return NOTHING


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def bind_scope(session: AsyncSession | Session, principal: Principal) -> None:
    """Every statement of `session` from now on runs under the principal's scope."""
    _sync(session).info[_WANT] = rls_scope(principal)


def bind_system(session: AsyncSession | Session) -> None:
    """Internal sweeps (dispatcher, reconciler, key lookup) that act before or above any
    tenant: said explicitly, never by forgetting to bind."""
    _sync(session).info[_WANT] = EVERYTHING


def bind_tracked_number(session: AsyncSession | Session, number: int) -> None:
    """The public tracking form: one ticket number and its customer, nothing else, read only."""
    _sync(session).info[_WANT] = f"number:{number}"


def bind_tracked_ticket(session: AsyncSession | Session, ticket_id: uuid.UUID) -> None:
    """A signed tracking link: the ticket it names and its customer, read only."""
    _sync(session).info[_WANT] = f"ticket:{ticket_id}"


class ScopedSession(Session):
    """A Session whose statements run under the scope bound to it (NOTHING when unbound)."""

    unbound_scope = NOTHING


def _want(session: Session) -> str:
    default = getattr(session, "unbound_scope", NOTHING)
    return str(session.info.get(_WANT, default))


@event.listens_for(ScopedSession, "after_begin")
def _apply_scope(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    _ensure(_want(session), connection)


@event.listens_for(ScopedSession, "do_orm_execute")
def _rebound(state: ORMExecuteState) -> None:
    # A second service with another principal on a session already in a transaction.
    want = _want(state.session)
    connection = state.session.connection()
    if connection.info.get(_HAVE, NOTHING) != want:
        _ensure(want, connection)


async def ensure_scope(session: AsyncSession, connection: AsyncConnection) -> None:
    """The driver path (statements on asyncpg itself) checks the scope like the ORM path."""
    want = _want(session.sync_session)
    if connection.info.get(_HAVE, NOTHING) != want:
        await connection.run_sync(lambda sync: _ensure(want, sync))


def _ensure(want: str, connection: Connection) -> None:
    """Sent only when the connection holds another scope than the session needs.

    Sent on the driver itself, before SQLAlchemy begins the driver's transaction: the value
    is session-level and committed at once, so a pooled connection that served this scope
    last needs no statement at all (the create path gains no round trip), and the create's
    read outside a transaction stays outside one. Inside an open transaction the value is
    transactional; the hooks below follow a rollback. An unbound session on a scoped
    connection resets it to NOTHING: a forgotten bind fails closed.
    """
    info = connection.info
    have = info.get(_HAVE, NOTHING)
    if have == want:
        return
    driver: Any = connection.connection.driver_connection
    if driver.is_in_transaction():
        info.setdefault(_BEFORE, have)
    try:
        await_only(driver.fetchval(_SET, SETTING, want))
    except Exception as error:
        if (lost := lost_connection(driver, _SET, error)) is None:
            raise
        connection.invalidate(error)
        # The pool's other connections died with this one (see db_driver).
        connection.engine.dispose(close=False)
        raise lost from error
    info[_HAVE] = want


def install(engine_sync: Any) -> None:
    """Track commits and rollbacks of `engine_sync` (an AsyncEngine's `sync_engine`)."""
    event.listen(engine_sync, "commit", _committed)
    event.listen(engine_sync, "rollback", _rolled_back)
    event.listen(engine_sync, "rollback_savepoint", _rolled_back_to_savepoint)
    event.listen(engine_sync.pool, "reset", _reset)


def _committed(connection: Connection) -> None:
    connection.info.pop(_BEFORE, None)


def _rolled_back(connection: Connection) -> None:
    # An invalidated connection's info went with its DBAPI connection (reading it would
    # raise, hiding the error that invalidated it); its replacement starts unscoped.
    if not connection.invalidated:
        _restore(connection.info)


def _rolled_back_to_savepoint(connection: Connection, _name: str, _context: object) -> None:
    # The value the savepoint undid is not known here: the next session sets its own.
    if _BEFORE in connection.info:
        connection.info[_HAVE] = None


def _reset(_dbapi: Any, record: PoolProxiedConnection, _state: PoolResetState) -> None:
    # Returned to the pool with its transaction open: the pool rolls it back.
    _restore(record.info)


def _restore(info: dict[Any, Any]) -> None:
    if _BEFORE in info:
        info[_HAVE] = info.pop(_BEFORE)
