"""Tables of the agent desk's sign-in: an agent's password login, server-side sessions, and
the per-email throttle of failed sign-ins."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base, enum_type


class LoginRole(StrEnum):
    AGENT = "agent"
    ADMIN = "admin"
    # Platform staff: every tenant, no agents row (no tenant of their own).
    PLATFORM = "platform"


class AgentLogin(Base):
    """A person who signs in to the desk: a tenant's agent (the same row teams and
    `assigned_to` name, by email) or platform staff."""

    __tablename__ = "agent_logins"
    __table_args__ = (
        # Deleting the agent deletes its login; a platform login (no tenant) has no agent.
        ForeignKeyConstraint(
            ["tenant_id", "email"], ["agents.tenant_id", "agents.email"], ondelete="CASCADE"
        ),
        CheckConstraint("(role = 'platform') = (tenant_id IS NULL)", name="scope"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Lower-case; one login per address across tenants (the sign-in form asks for no tenant).
    email: Mapped[str] = mapped_column(String(200), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[LoginRole] = mapped_column(enum_type(LoginRole, 16))
    name: Mapped[str | None] = mapped_column(String(200))
    # argon2id (pwdlib), parameters inside the hash.
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeskSession(Base):
    """A signed-in browser: only the SHA-256 of the cookie's value is kept."""

    __tablename__ = "desk_sessions"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    login_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agent_logins.id", ondelete="CASCADE"), index=True
    )
    # The login's tenant, for the row-level security policy (None: platform staff).
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    # Every form of the session carries it (compared in constant time).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class LoginThrottle(Base):
    """Failed sign-ins of one email (a keyed digest, never the address) in the current window."""

    __tablename__ = "desk_login_throttle"

    email_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(index=True)
