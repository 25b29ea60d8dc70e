"""customer portal: one-use sign-in links (digests only) and customers' server-side sessions

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"
# Per tenant, as desk_sessions (0022). A link is looked up by its token's digest, and a
# session by its cookie's, before any tenant is known: those lookups run under the explicit
# system scope (bind_system), as the desk's sign-in and the API key lookup do; every other
# reader sees its own tenant's rows only.
TENANT_TABLES = ("portal_links", "portal_sessions")


def upgrade() -> None:
    op.create_table(
        "portal_links",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("email_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            ondelete="CASCADE",
            name=op.f("fk_portal_links_tenant_id_customers"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_links")),
    )
    op.create_index(op.f("ix_portal_links_email_key"), "portal_links", ["email_key"])
    op.create_table(
        "portal_sessions",
        sa.Column("id_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            ondelete="CASCADE",
            name=op.f("fk_portal_sessions_tenant_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_portal_sessions")),
    )
    # Grants come from 0003/0009's default privileges when the same owner migrates; said
    # again here for a deployment whose owner changed since.
    for table in TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticketing_tenant_visible(tenant_id)) "
            "WITH CHECK (ticketing_tenant_visible(tenant_id))"
        )


def downgrade() -> None:
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_scope ON {table}")
    op.drop_table("portal_sessions")
    op.drop_table("portal_links")
