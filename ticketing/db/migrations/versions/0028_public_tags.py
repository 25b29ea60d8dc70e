"""tenants' public tags: which network tags the public status page may show

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-15 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Exact tags (`olt:berlin-7`) or prefixes ending in ':' (`postcode:`); empty: the status
    # page shows no tags at all (a network's layout is the tenant's to publish).
    op.add_column(
        "tenants",
        sa.Column(
            "public_tags",
            postgresql.ARRAY(sa.String(100)),
            server_default=sa.text("'{}'::varchar[]"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("tenants", "public_tags")
