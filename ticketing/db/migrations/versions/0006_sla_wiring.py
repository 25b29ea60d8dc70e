"""customers.plan: the plan (tier) SLA rules may match

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-22 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("plan", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "plan")
