"""agent desk: agents' logins, server-side sessions, the sign-in throttle, and the indexes the
desk's queue filters and search run on

Revision ID: 0022
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"
# Per tenant, as api_keys (0009): a tenant's logins and sessions to its tenant; platform
# staff's (no tenant) only to '*'. The sign-in and each request's session lookup run before
# any tenant is known, under that explicit scope (bind_system), as the API key lookup does.
TENANT_TABLES = ("agent_logins", "desk_sessions")


def upgrade() -> None:
    op.create_table(
        "agent_logins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "email"],
            ["agents.tenant_id", "agents.email"],
            ondelete="CASCADE",
            name=op.f("fk_agent_logins_tenant_id_agents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_logins")),
        sa.UniqueConstraint("email", name=op.f("uq_agent_logins_email")),
        # Platform staff have no tenant, tenant roles always one.
        sa.CheckConstraint(
            "(role = 'platform') = (tenant_id IS NULL)", name=op.f("ck_agent_logins_scope")
        ),
    )
    op.create_table(
        "desk_sessions",
        sa.Column("id_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("login_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["login_id"],
            ["agent_logins.id"],
            ondelete="CASCADE",
            name=op.f("fk_desk_sessions_login_id_agent_logins"),
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_desk_sessions")),
    )
    op.create_index(op.f("ix_desk_sessions_login_id"), "desk_sessions", ["login_id"])
    # No row-level security: keyed by a digest of the email typed, before anyone is known
    # (like tracking_lookups); it holds no tenant and nothing personal.
    op.create_table(
        "desk_login_throttle",
        sa.Column("email_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("email_hash", name=op.f("pk_desk_login_throttle")),
    )
    op.create_index(
        op.f("ix_desk_login_throttle_locked_until"), "desk_login_throttle", ["locked_until"]
    )
    # Grants come from 0003/0009's default privileges when the same owner migrates; said
    # again here for a deployment whose owner changed since.
    for table in (*TENANT_TABLES, "desk_login_throttle"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticketing_tenant_visible(tenant_id)) "
            "WITH CHECK (ticketing_tenant_visible(tenant_id))"
        )
    # The queue's filters, newest first within the tenant: one index range each, read in
    # number order and stopped after a page (status already has ix_tickets_tenant_status_number).
    op.create_index(
        "ix_tickets_tenant_priority_number", "tickets", ["tenant_id", "priority", "number"]
    )
    op.create_index(
        "ix_tickets_tenant_assigned_to_number", "tickets", ["tenant_id", "assigned_to", "number"]
    )
    # Search by customer email (the address typed, any case): the customers it names.
    op.execute("CREATE INDEX ix_customers_tenant_email ON customers (tenant_id, lower(email))")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_customers_tenant_email")
    op.drop_index("ix_tickets_tenant_assigned_to_number", table_name="tickets")
    op.drop_index("ix_tickets_tenant_priority_number", table_name="tickets")
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_scope ON {table}")
    op.drop_table("desk_login_throttle")
    op.drop_table("desk_sessions")
    op.drop_table("agent_logins")
