"""outages: customers' network tags, the outage beside its parent ticket, its updates, and the
link from a ticket to the outage it belongs to

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-14 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"
TENANT_TABLES = ("outages", "outage_updates")


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.String(100)),
            server_default=sa.text("'{}'::varchar[]"),
            nullable=False,
        ),
    )
    # "Which customers carry any of these tags": one GIN lookup per outage page.
    op.execute("CREATE INDEX ix_customers_tags ON customers USING gin (tags)")
    op.add_column("tickets", sa.Column("outage_number", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_tickets_tenant_outage_number",
        "tickets",
        ["tenant_id", "outage_number"],
        postgresql_where=sa.text("outage_number IS NOT NULL"),
    )
    op.create_table(
        "outages",
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(100)), nullable=False),
        sa.Column("eta", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notify", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sent_seq", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(64), nullable=True),
        sa.Column("declare_key", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_outages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_outages")),
        sa.UniqueConstraint("number", name=op.f("uq_outages_number")),
        sa.UniqueConstraint("tenant_id", "declare_key", name=op.f("uq_outages_tenant_id")),
    )
    op.create_index("ix_outages_tenant_status", "outages", ["tenant_id", "status", "number"])
    op.execute("CREATE INDEX ix_outages_tags ON outages USING gin (tags)")
    op.create_table(
        "outage_updates",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("outage_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("notified", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.ticket_id"], name=op.f("fk_outage_updates_outage_id_outages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_updates")),
        sa.UniqueConstraint("outage_id", "seq", name=op.f("uq_outage_updates_outage_id")),
        sa.UniqueConstraint(
            "outage_id", "idempotency_key", name="uq_outage_updates_outage_id_idempotency_key"
        ),
    )
    for table in TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticketing_tenant_visible(tenant_id)) "
            "WITH CHECK (ticketing_tenant_visible(tenant_id))"
        )
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON SEQUENCE outage_updates_id_seq TO {APP_ROLE}")


def downgrade() -> None:
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_scope ON {table}")
    op.drop_table("outage_updates")
    op.drop_table("outages")
    op.drop_index("ix_tickets_tenant_outage_number", table_name="tickets")
    op.drop_column("tickets", "outage_number")
    op.execute("DROP INDEX IF EXISTS ix_customers_tags")
    op.drop_column("customers", "tags")
