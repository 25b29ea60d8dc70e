"""Desk logins and sessions on a real PostgreSQL: expiry, the throttle's window, RLS, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from tests.services import Services
from tests.web.desk.conftest import PASSWORD, seed_desk
from ticketing.auth.principal import Principal, Role
from ticketing.core.errors import Forbidden, InvalidInput, TenantNotFound
from ticketing.db.engine import make_sessionmaker
from ticketing.teams.errors import AlreadyExists
from ticketing.teams.logins import AgentLogin, LoginRole
from ticketing.teams.service import TeamService
from ticketing.teams.signin import AgentLogins, DeskRules, DeskSignIn, SignInOutcome
from ticketing_ops.cli import app

Sessions = async_sessionmaker[AsyncSession]
SECRET = b"signin-tests-secret-0123456789-0123456789"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def sign_in_with(sessions: Sessions, clock: Clock) -> Callable[..., DeskSignIn]:
    def make(**rules: object) -> DeskSignIn:
        return DeskSignIn(sessions(), secret=SECRET, rules=DeskRules(**rules), clock=clock)  # type: ignore[arg-type]

    return make


async def test_sessions_end_after_8_hours_idle_or_7_days(committed: Sessions) -> None:
    await seed_desk(committed)
    clock = Clock()
    desk = sign_in_with(committed, clock)
    result = await desk().sign_in("Alice@Acme.test ", PASSWORD)
    assert result.outcome is SignInOutcome.SIGNED_IN and result.token
    me = await desk().identity(result.token)
    assert me is not None and me.principal == Principal.tenant_agent("acme", "alice@acme.test")
    clock.now += timedelta(hours=8, seconds=-1)
    assert await desk().identity(result.token) is not None  # and touched
    clock.now += timedelta(hours=8, seconds=-1)
    assert await desk().identity(result.token) is not None
    clock.now += timedelta(hours=8, seconds=1)
    assert await desk().identity(result.token) is None  # idle too long
    # Ended server-side: the row is gone, so even an earlier clock finds nothing.
    clock.now = T0
    assert await desk().identity(result.token) is None

    kept = await desk().sign_in("alice@acme.test", PASSWORD)
    assert kept.token
    for _ in range(22):  # active every 8 hours, past a week
        clock.now += timedelta(hours=8)
        if await desk().identity(kept.token) is None:
            break
    assert clock.now - T0 > timedelta(days=7)
    assert clock.now - T0 <= timedelta(days=7, hours=8)


async def test_the_throttle_locks_an_email_for_15_minutes_after_10_failures(
    committed: Sessions,
) -> None:
    await seed_desk(committed)
    clock = Clock()
    desk = sign_in_with(committed, clock)
    for minute in range(10):
        clock.now = T0 + timedelta(minutes=minute)
        assert (await desk().sign_in("nobody@acme.test", "x")).outcome is SignInOutcome.REFUSED
    clock.now = T0 + timedelta(minutes=10)
    assert (await desk().sign_in("nobody@acme.test", "x")).outcome is SignInOutcome.THROTTLED
    # The lock runs 15 minutes from the tenth failure (at minute 9).
    clock.now = T0 + timedelta(minutes=23, seconds=59)
    assert (await desk().sign_in("nobody@acme.test", "x")).outcome is SignInOutcome.THROTTLED
    clock.now = T0 + timedelta(minutes=24, seconds=1)
    assert (await desk().sign_in("nobody@acme.test", "x")).outcome is SignInOutcome.REFUSED
    # Failures spread wider than the window never lock.
    for step in range(12):
        clock.now = T0 + timedelta(hours=1, minutes=16 * step)
        assert (await desk().sign_in("alice@acme.test", "x")).outcome is SignInOutcome.REFUSED
    assert (await desk().sign_in("alice@acme.test", PASSWORD)).outcome is SignInOutcome.SIGNED_IN


async def test_logins_and_sessions_are_row_level_scoped(
    committed: Sessions, engine: AsyncEngine
) -> None:
    await seed_desk(committed)
    assert (
        await DeskSignIn(committed(), secret=SECRET).sign_in("staff@platform.test", PASSWORD)
    ).token
    # The app's own sessions (unbound scope: nothing) under a tenant's scope see that tenant's
    # logins only; platform staff's login (no tenant) is seen under '*' alone.
    app_sessions = make_sessionmaker(engine)
    async with app_sessions() as session, session.begin():
        await session.execute(text("SELECT set_config('ticketing.tenant_id', 'globex', true)"))
        emails = (await session.scalars(select(AgentLogin.email).order_by(AgentLogin.email))).all()
        sessions_seen = (await session.execute(text("SELECT count(*) FROM desk_sessions"))).scalar()
    assert emails == ["gloria@globex.test"]
    assert sessions_seen == 0


async def test_who_may_add_logins(session: AsyncSession, tenant: str) -> None:
    admin = AgentLogins(session, Principal.tenant_admin("acme", "boss"))
    added = await admin.add("New@Acme.test", password=PASSWORD, tenant_id="acme")
    assert (added.email, added.role) == ("new@acme.test", LoginRole.AGENT)
    # The same person the teams name: an agent row of that email now exists.
    agents = await TeamService(session, Principal.platform()).list_agents("acme")
    assert "new@acme.test" in [a.email for a in agents]
    with pytest.raises(AlreadyExists):
        await admin.add("new@acme.test", password=PASSWORD, tenant_id="acme")
    with pytest.raises(TenantNotFound):
        await admin.add("x@globex.test", password=PASSWORD, tenant_id="globex")
    with pytest.raises(Forbidden):
        await admin.add("root@p.test", password=PASSWORD, tenant_id=None, role=LoginRole.PLATFORM)
    with pytest.raises(Forbidden):
        await AgentLogins(session, Principal.tenant_agent("acme")).add(
            "y@acme.test", password=PASSWORD, tenant_id="acme"
        )
    with pytest.raises(InvalidInput) as short:
        await admin.add("z@acme.test", password="short", tenant_id="acme")
    assert short.value.field == "password"
    assert Principal.platform().role is Role.PLATFORM


async def test_cli_agent_add(database_url: str, committed: Sessions) -> None:
    async with committed() as session, session.begin():
        await Services(session).tenants.register_tenant("acme", name="Acme")
    runner = CliRunner()
    env = {"TICKETING_DATABASE_URL": database_url, "TEMPORAL_ADDRESS": "127.0.0.1:9"}

    def invoke(*args: str, stdin: str) -> Result:
        # The CLI runs its own event loop: give it a thread of its own.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(
                lambda: runner.invoke(app, list(args), input=stdin, env=env)
            ).result()

    made = invoke(
        "agent",
        "add",
        "Carol@Acme.test",
        "--tenant",
        "acme",
        "--role",
        "admin",
        "--name",
        "Carol",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert made.exit_code == 0, (made.stdout, made.stderr)
    shown = json.loads(made.stdout)
    assert (shown["email"], shown["role"], shown["tenant_id"]) == (
        "carol@acme.test",
        "admin",
        "acme",
    )
    assert PASSWORD not in made.stdout
    staff = invoke(
        "agent",
        "add",
        "ops@platform.test",
        "--platform",
        "--password-stdin",
        "--json",
        stdin=PASSWORD,
    )
    assert json.loads(staff.stdout)["role"] == "platform"
    again = invoke(
        "agent", "add", "carol@acme.test", "--tenant", "acme", "--password-stdin", stdin=PASSWORD
    )
    assert again.exit_code == 2
    assert again.stderr.strip().startswith("error: email:")
    weak = invoke(
        "agent", "add", "dan@acme.test", "--tenant", "acme", "--password-stdin", stdin="short\n"
    )
    assert weak.exit_code == 2 and "password" in weak.stderr
    both = invoke(
        "agent",
        "add",
        "e@acme.test",
        "--tenant",
        "acme",
        "--platform",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert both.exit_code == 2
    signed = await DeskSignIn(committed(), secret=SECRET).sign_in("CAROL@acme.test", PASSWORD)
    assert signed.outcome is SignInOutcome.SIGNED_IN
