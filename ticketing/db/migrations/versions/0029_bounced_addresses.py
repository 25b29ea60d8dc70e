"""bounced addresses: a permanent delivery failure reported for one of our notices flags the
recipient, and later notices to it fail at once instead of bouncing again

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-04 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"


def upgrade() -> None:
    op.create_table(
        "bounced_addresses",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        # Lower-cased.
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=False),
        # The stored delivery report that flagged it (the latest).
        sa.Column("mail_id", sa.BigInteger(), nullable=True),
        sa.Column("reports", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_bounced_addresses_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "address", name=op.f("pk_bounced_addresses")),
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON bounced_addresses TO {APP_ROLE}")
    op.execute("ALTER TABLE bounced_addresses ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_scope ON bounced_addresses TO {APP_ROLE} "
        "USING (ticketing_tenant_visible(tenant_id)) "
        "WITH CHECK (ticketing_tenant_visible(tenant_id))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS tenant_scope ON bounced_addresses")
    op.drop_table("bounced_addresses")
