"""hardening: idempotency fingerprints, erased tickets, shared tracking lookup limits

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SHA-256 (hex) of the request a key first came with: a reuse with another body is refused.
    # Null for tickets made before, and for workflow creates (a business key names one ticket
    # whatever the retry carries).
    op.add_column("tickets", sa.Column("idempotency_fingerprint", sa.String(64), nullable=True))
    # Set by the first erasure: the public tracking page no longer opens the ticket.
    op.add_column("tickets", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    # One row per counted tracking lookup and window: every API process counts in one place.
    # `key_hash` is a digest of the address, email or number (no personal data at rest).
    op.create_table(
        "tracking_lookups",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("bucket", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_tracking_lookups_bucket_key_at", "tracking_lookups", ["bucket", "key_hash", "at"]
    )
    op.create_index("ix_tracking_lookups_at", "tracking_lookups", ["at"])


def downgrade() -> None:
    op.drop_table("tracking_lookups")
    op.drop_column("tickets", "erased_at")
    op.drop_column("tickets", "idempotency_fingerprint")
