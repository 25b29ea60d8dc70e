"""mail: mailboxes, received mail, ticket participants, attachments; their row-level security

Revision ID: 0021
Revises: 0010
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0021"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"
TENANT_TABLES = (
    "mailboxes",
    "inbound_mails",
    "ticket_participants",
    "attachments",
    "attachment_blobs",
)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("address", sa.String(254), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("senders", sa.String(16), nullable=False),
        sa.Column("domains", JSONB, nullable=False, server_default="[]"),
        sa.Column("require_auth", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("imap_url", sa.String(1000)),
        sa.Column("imap_password", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("address = lower(address)", name="ck_mailboxes_address_lower"),
    )
    op.create_index("ix_mailboxes_tenant_id", "mailboxes", ["tenant_id"])
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("mailbox", sa.String(254), nullable=False),
        sa.Column("message_key", sa.String(300), nullable=False),
        sa.Column("message_id", sa.String(300)),
        sa.Column("sender", sa.String(254)),
        sa.Column("subject", sa.String(200)),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("raw", sa.LargeBinary),
        sa.Column("outcome", sa.String(16)),
        sa.Column("reason", sa.Text),
        sa.Column("ticket_id", UUID(as_uuid=True), sa.ForeignKey("tickets.id")),
        sa.Column("ticket_message_id", sa.BigInteger),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.UniqueConstraint(
            "tenant_id", "message_key", name="uq_inbound_mails_tenant_id_message_key"
        ),
    )
    op.create_index(
        "ix_inbound_mails_tenant_sender_received",
        "inbound_mails",
        ["tenant_id", "sender", "received_at"],
    )
    op.create_index(
        "ix_inbound_mails_tenant_message_id", "inbound_mails", ["tenant_id", "message_id"]
    )
    op.create_index(
        "ix_inbound_mails_tenant_outcome_id", "inbound_mails", ["tenant_id", "outcome", "id"]
    )
    op.create_index("ix_inbound_mails_ticket_id", "inbound_mails", ["ticket_id"])
    op.create_table(
        "ticket_participants",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("ticket_id", UUID(as_uuid=True), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint(
            "ticket_id", "address", name="uq_ticket_participants_ticket_id_address"
        ),
    )
    op.create_table(
        "attachments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("ticket_id", UUID(as_uuid=True), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage", sa.String(32), nullable=False),
        sa.Column("storage_ref", sa.String(500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_attachments_ticket_id", "attachments", ["ticket_id"])
    op.create_table(
        "attachment_blobs",
        sa.Column(
            "attachment_id",
            UUID(as_uuid=True),
            sa.ForeignKey("attachments.id"),
            primary_key=True,
        ),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    # Every mail looks its sender up among the tenant's customers, case-insensitively.
    op.execute(
        "CREATE INDEX ix_customers_tenant_lower_email ON customers (tenant_id, lower(email))"
    )
    # Threading by In-Reply-To/References looks up the Message-IDs sent for a ticket.
    op.create_index("ix_notifications_message_id", "notifications", ["message_id"])
    # The same grants and policies as every tenant table (0003, 0009).
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TENANT_TABLES)} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticketing_tenant_visible(tenant_id)) "
            "WITH CHECK (ticketing_tenant_visible(tenant_id))"
        )


def downgrade() -> None:
    op.drop_index("ix_notifications_message_id", table_name="notifications")
    op.drop_index("ix_customers_tenant_lower_email", table_name="customers")
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
