"""outage_alerts: each Alertmanager alert (by fingerprint) and the outage it declared or joined,
so a redelivered webhook does nothing twice and a resolved alert resolves its outage only when
no other alert still fires for it

Revision ID: 0026
Revises: 0027
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"


def upgrade() -> None:
    op.create_table(
        "outage_alerts",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=False),
        sa.Column("outage_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.ticket_id"], name=op.f("fk_outage_alerts_outage_id_outages")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "fingerprint", name=op.f("pk_outage_alerts")),
    )
    op.create_index("ix_outage_alerts_outage_status", "outage_alerts", ["outage_id", "status"])
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON outage_alerts TO {APP_ROLE}")
    op.execute("ALTER TABLE outage_alerts ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_scope ON outage_alerts TO {APP_ROLE} "
        "USING (ticketing_tenant_visible(tenant_id)) "
        "WITH CHECK (ticketing_tenant_visible(tenant_id))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS tenant_scope ON outage_alerts")
    op.drop_table("outage_alerts")
