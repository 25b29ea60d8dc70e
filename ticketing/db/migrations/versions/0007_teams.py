"""teams: agents, teams with an assignment mode, and team members

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_agents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "email", name=op.f("pk_agents")),
    )
    op.create_table(
        "teams",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("assignment_mode", sa.String(length=16), nullable=False),
        sa.Column("assignments", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_teams_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_teams")),
    )
    op.create_table(
        "team_members",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("team_name", sa.String(length=100), nullable=False),
        sa.Column("agent_email", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_name"],
            ["teams.tenant_id", "teams.name"],
            name=op.f("fk_team_members_tenant_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agent_email"],
            ["agents.tenant_id", "agents.email"],
            name=op.f("fk_team_members_tenant_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "team_name", "agent_email", name=op.f("pk_team_members")
        ),
    )
    # Least-loaded picks count an agent's unfinished tickets.
    op.create_index(
        "ix_tickets_tenant_assigned_to_status", "tickets", ["tenant_id", "assigned_to", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_tenant_assigned_to_status", table_name="tickets")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_table("agents")
