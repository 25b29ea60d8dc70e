"""customers unique per tenant; ticket_number derived, not stored

Customer ids are the caller's ids and two tenants may both have a customer 42: the key becomes
(tenant_id, id) and tickets reference their customer by both. Existing ids were unique across
the platform, so they stay unique within their tenant and no row changes.

The ticket number is derived from `number` (unique) by `format_ticket_number`, in Python only:
the stored copy cost every create a column and a unique index entry, and was the one place
where SQL formatted numbers. Readers outside Python format `number` themselves.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("fk_tickets_customer_id_customers", "tickets", type_="foreignkey")
    op.drop_constraint("pk_customers", "customers", type_="primary")
    op.create_primary_key("pk_customers", "customers", ["tenant_id", "id"])
    op.create_foreign_key(
        "fk_tickets_tenant_id_customers",
        "tickets",
        "customers",
        ["tenant_id", "customer_id"],
        ["tenant_id", "id"],
    )
    op.drop_column("tickets", "ticket_number")


def downgrade() -> None:
    op.add_column("tickets", sa.Column("ticket_number", sa.String(length=24), nullable=True))
    op.execute(
        "UPDATE tickets SET ticket_number = 'TKT-' || CASE WHEN number < 1000000"
        " THEN lpad(number::text, 6, '0') ELSE number::text END"
    )
    op.alter_column("tickets", "ticket_number", nullable=False)
    op.create_unique_constraint("uq_tickets_ticket_number", "tickets", ["ticket_number"])
    op.drop_constraint("fk_tickets_tenant_id_customers", "tickets", type_="foreignkey")
    op.drop_constraint("pk_customers", "customers", type_="primary")
    # Fails, as it must, once two tenants share a customer id.
    op.create_primary_key("pk_customers", "customers", ["id"])
    op.create_foreign_key(
        "fk_tickets_customer_id_customers", "tickets", "customers", ["customer_id"], ["id"]
    )
