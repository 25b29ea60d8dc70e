"""notification status: queued, sent or failed, with the reason and the next attempt

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
    )
    op.add_column("notifications", sa.Column("reason", sa.Text(), nullable=True))
    op.add_column(
        "notifications",
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "notifications", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("notifications", sa.Column("message_id", sa.String(length=300), nullable=True))
    # Rows a release without statuses delivered stay delivered; the rest are due now.
    op.execute("UPDATE notifications SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.execute("UPDATE notifications SET next_attempt_at = created_at WHERE sent_at IS NULL")
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_due", table_name="notifications")
    for column in ("message_id", "failed_at", "next_attempt_at", "reason", "status"):
        op.drop_column("notifications", column)
