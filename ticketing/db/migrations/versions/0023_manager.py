"""manager: merged tickets point at their survivor; pending tickets know since when

Revision ID: 0023
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0023"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Set when the ticket was merged into another: later replies (mail to its thread) land on
    # the survivor.
    op.add_column(
        "tickets",
        sa.Column("merged_into", UUID(as_uuid=True), sa.ForeignKey("tickets.id"), nullable=True),
    )
    # When the ticket last began waiting on the customer (null unless pending): the policy's
    # pending reminder and pending close count from here.
    op.add_column("tickets", sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True))
    # Tickets pending before this column existed wait since their open pause began (pending
    # always pauses the clocks).
    op.execute(
        "UPDATE tickets SET pending_since = (sla_pauses -> -1 ->> 0)::timestamptz"
        " WHERE status = 'pending' AND jsonb_typeof(sla_pauses -> -1) = 'array'"
        " AND (sla_pauses -> -1 ->> 1) IS NULL"
    )
    op.execute(
        "UPDATE tickets SET pending_since = updated_at WHERE status = 'pending'"
        " AND pending_since IS NULL"
    )
    op.create_index(
        "ix_tickets_pending_since",
        "tickets",
        ["pending_since"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_pending_since", table_name="tickets")
    op.drop_column("tickets", "pending_since")
    op.drop_column("tickets", "merged_into")
