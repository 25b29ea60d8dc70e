"""The agent desk's sign-in: agents' password logins (argon2id via pwdlib), the per-email
throttle, and server-side sessions that stand for a Principal exactly as an API key does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from pwdlib import PasswordHash
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, Role, require_principal
from ticketing.core.errors import Forbidden, InvalidInput, TenantNotFound
from ticketing.core.fields import check_storable
from ticketing.db.rls import bind_scope, bind_system
from ticketing.teams import login_repository as repo
from ticketing.teams import repository as teams_repo
from ticketing.teams.errors import AlreadyExists
from ticketing.teams.logins import AgentLogin, DeskSession, LoginRole
from ticketing.teams.schemas import AgentCreate
from ticketing.teams.service import TeamService
from ticketing.tenants import repository as tenants_repo

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@cache
def passwords() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    # What an unknown email's password is checked against: the same argon2 work as a real one.
    return passwords().hash(secrets.token_urlsafe(16))


def normal_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class DeskRules:
    """Session lifetimes and the sign-in throttle (DESIGN.md, "Agent desk")."""

    idle: timedelta = timedelta(hours=8)
    absolute: timedelta = timedelta(days=7)
    failures: int = 10
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    # A session's last-seen time is written at most this often (not on every page).
    touch_every: timedelta = timedelta(seconds=60)


class LoginInfo(BaseModel):
    login_id: uuid.UUID
    email: str
    tenant_id: str | None
    role: LoginRole
    name: str | None
    created_at: datetime


def principal_of(login: AgentLogin) -> Principal:
    """The Principal a desk login stands for; its email is the actor of what it does (the
    name `assigned_to` and the teams already use)."""
    if login.role is LoginRole.PLATFORM:
        return Principal.platform(name=login.email)
    assert login.tenant_id is not None
    if login.role is LoginRole.ADMIN:
        return Principal.tenant_admin(login.tenant_id, name=login.email)
    return Principal.tenant_agent(login.tenant_id, name=login.email)


class AgentLogins:
    """Adding desk logins: the platform for any tenant (and platform staff), a tenant admin
    for its own tenant's agents."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "AgentLogins")
        bind_scope(session, self.principal)

    async def add(
        self,
        email: str,
        *,
        password: str,
        tenant_id: str | None,
        role: LoginRole = LoginRole.AGENT,
        name: str | None = None,
    ) -> LoginInfo:
        """A login for `email`; for a tenant, the agent of that email too when it is new."""
        email = normal_email(email)
        check_storable(email=email, name=name, tenant_id=tenant_id)
        if not EMAIL.match(email) or len(email) > 200:
            raise InvalidInput("email", email, "is not an email address")
        if name is not None and len(name) > 200:
            raise InvalidInput("name", name, "must be at most 200 characters")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidInput(
                "password", None, f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
            )
        if (role is LoginRole.PLATFORM) != (tenant_id is None):
            raise InvalidInput("tenant_id", tenant_id, "platform staff have no tenant; agents one")
        p = self.principal
        if role is LoginRole.PLATFORM and p.role is not Role.PLATFORM:
            raise Forbidden("add platform staff")
        if p.role not in (Role.PLATFORM, Role.TENANT_ADMIN):
            raise Forbidden("add agents")
        if tenant_id is not None:
            if p.role is Role.TENANT_ADMIN and tenant_id != p.tenant_id:
                raise TenantNotFound(tenant_id)
            if await tenants_repo.get_tenant(self.session, tenant_id) is None:
                raise TenantNotFound(tenant_id)
        if await repo.login_by_email(self.session, email) is not None:
            raise AlreadyExists("email", email)
        if (
            tenant_id is not None
            and await teams_repo.get_agent(self.session, tenant_id, email) is None
        ):
            await TeamService(self.session, p).create_agent(
                AgentCreate(email=email, name=name), tenant_id=tenant_id
            )
        hashed = await asyncio.to_thread(passwords().hash, password)
        login = AgentLogin(
            id=uuid.uuid4(),
            email=email,
            tenant_id=tenant_id,
            role=role,
            name=name,
            password_hash=hashed,
            created_at=datetime.now(UTC),
        )
        self.session.add(login)
        await self.session.flush()
        return LoginInfo(
            login_id=login.id,
            email=login.email,
            tenant_id=login.tenant_id,
            role=login.role,
            name=login.name,
            created_at=login.created_at,
        )


class SignInOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    # A wrong password and an unknown email alike.
    REFUSED = "refused"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class DeskIdentity:
    """Who a session is: the Principal its pages act for, and what the pages show of it."""

    principal: Principal
    email: str
    name: str | None
    role: LoginRole
    tenant_id: str | None
    csrf_token: str


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    # The new session's cookie value (shown once; only its digest is stored).
    token: str | None = None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


class DeskSignIn:
    """Before any principal exists (like an API key's lookup): every statement here runs
    under the explicit system scope, each method in its own transaction on `session` (which
    must have none)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        secret: bytes,
        rules: DeskRules | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session = session
        self.rules = rules or DeskRules()
        self.clock = clock
        self._key = hmac.digest(secret, b"ticketing-desk:throttle", "sha256")
        bind_system(session)

    def _email_key(self, email: str) -> bytes:
        return hmac.digest(self._key, email.encode("utf-8", "replace"), "sha256")

    async def sign_in(
        self, email: str, password: str, *, replacing: str | None = None
    ) -> SignInResult:
        """Check the password (as much work for an unknown email), count a failure against
        the email, or open a new session (ending the one `replacing` names)."""
        email = normal_email(email)[:254]
        key = self._email_key(email)
        now = self.clock()
        async with self.session.begin():
            if await repo.locked(self.session, key, now):
                return SignInResult(SignInOutcome.THROTTLED)
            login = await repo.login_by_email(self.session, email) if email else None
            stored = login.password_hash if login is not None else _dummy_hash()
        matches = await asyncio.to_thread(passwords().verify, password[:MAX_PASSWORD], stored)
        async with self.session.begin():
            if login is None or not matches:
                rules = self.rules
                await repo.record_failure(
                    self.session,
                    key,
                    now,
                    window=rules.window,
                    attempts=rules.failures,
                    lock=rules.lock,
                )
                return SignInResult(SignInOutcome.REFUSED)
            await repo.clear_failures(self.session, key)
            if replacing:
                await repo.delete_session(self.session, _digest(replacing))
            token = secrets.token_urlsafe(32)
            self.session.add(
                DeskSession(
                    id_hash=_digest(token),
                    login_id=login.id,
                    tenant_id=login.tenant_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return SignInResult(SignInOutcome.SIGNED_IN, token)

    async def identity(self, token: str | None) -> DeskIdentity | None:
        """The session's identity; None for no, an unknown, an idle or an expired session
        (which ends here, server-side)."""
        if not token or len(token) > 128:
            return None
        id_hash, now = _digest(token), self.clock()
        async with self.session.begin():
            found = await repo.session_with_login(self.session, id_hash)
            if found is None:
                return None
            desk, login = found
            if (
                now - desk.last_seen_at > self.rules.idle
                or now - desk.created_at > self.rules.absolute
            ):
                await repo.delete_session(self.session, id_hash)
                return None
            if now - desk.last_seen_at > self.rules.touch_every:
                await repo.touch_session(self.session, id_hash, now)
        return DeskIdentity(
            principal=principal_of(login),
            email=login.email,
            name=login.name,
            role=login.role,
            tenant_id=login.tenant_id,
            csrf_token=desk.csrf_token,
        )

    async def sign_out(self, token: str | None) -> None:
        """End the session server-side: its cookie opens nothing from now on."""
        if not token or len(token) > 128:
            return
        async with self.session.begin():
            await repo.delete_session(self.session, _digest(token))
