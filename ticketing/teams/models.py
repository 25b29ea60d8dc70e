"""Tables of agents, teams and who belongs to which team."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base, enum_type
from ticketing.teams.schemas import AssignmentMode


class Agent(Base):
    """A person of the tenant's support side, known by email (what `assigned_to` holds)."""

    __tablename__ = "agents"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Team(Base):
    """A team by the name tickets carry in `assigned_team`."""

    __tablename__ = "teams"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    assignment_mode: Mapped[AssignmentMode] = mapped_column(enum_type(AssignmentMode, 16))
    # Bumped by every round-robin pick under the team row's lock: two creates at once take
    # consecutive values, never the same stale one.
    assignments: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "team_name"], ["teams.tenant_id", "teams.name"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "agent_email"], ["agents.tenant_id", "agents.email"], ondelete="CASCADE"
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    agent_email: Mapped[str] = mapped_column(String(200), primary_key=True)
