"""index upkeep: one of two identical customer address indexes goes; merged tickets get the
index their foreign key needs

Migrations 0021 and 0022 both made an index on customers (tenant_id, lower(email)); one is
enough (and under the policies only the owner's queries can use it: the application looks
addresses up through migration 0027's view and ix_customers_email_key). `tickets.merged_into`
refers to tickets: without an index, erasing or deleting a ticket had every other ticket read to
check that none was merged into it.

Revision ID: 0030
Revises: 0026
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_customers_tenant_lower_email")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_tickets_merged_into ON tickets (merged_into)"
        " WHERE merged_into IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_tickets_merged_into")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_customers_tenant_lower_email"
        " ON customers (tenant_id, lower(email))"
    )
