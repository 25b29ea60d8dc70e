"""row-level security: the app role sees only the tenant its transaction is scoped to

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 17:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A group role: deployments grant it to the login role the app connects as (see README).
APP_ROLE = "ticketing_app"
TENANT_TABLES = ("tickets", "customers", "notifications")
TICKET_TABLES = ("ticket_messages", "ticket_events", "sla_breaches")

# '' or unset (a transaction nobody scoped) sees nothing; '*' is the platform and system marker;
# 'partner:<id>' sees the tenants of that partner.
VISIBLE = """
CREATE FUNCTION ticketing_tenant_visible(row_tenant text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN current_setting('ticketing.tenant_id', true) = '*' THEN true
        WHEN current_setting('ticketing.tenant_id', true) LIKE 'partner:%' THEN row_tenant IN (
            SELECT id FROM tenants
             WHERE partner_id = substr(current_setting('ticketing.tenant_id', true), 9))
        ELSE row_tenant = current_setting('ticketing.tenant_id', true)
    END
$$
"""


def upgrade() -> None:
    op.execute(
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        END $$"""
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # Later migrations' tables too, as long as the same owner runs them.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES "
        f"TO {APP_ROLE}"
    )
    op.execute(VISIBLE)
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticketing_tenant_visible(tenant_id)) "
            "WITH CHECK (ticketing_tenant_visible(tenant_id))"
        )
    for table in TICKET_TABLES:
        # The subquery reads tickets under its own policy: a row is visible with its ticket.
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticket_id IN (SELECT id FROM tickets)) "
            "WITH CHECK (ticket_id IN (SELECT id FROM tickets))"
        )


def downgrade() -> None:
    for table in (*TENANT_TABLES, *TICKET_TABLES):
        op.execute(f"DROP POLICY IF EXISTS tenant_scope ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS ticketing_tenant_visible(text)")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
