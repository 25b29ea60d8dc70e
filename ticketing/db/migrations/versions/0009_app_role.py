"""app role: row-level security for the tables added since 0003, and the tracking scopes

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-22 19:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"
# Per tenant since 0007. api_keys: a tenant's keys to its tenant; platform and partner keys
# (no tenant) only to '*' — the lookup of a presented key runs under that explicit scope.
TENANT_TABLES = ("teams", "agents", "team_members", "api_keys")
TICKET_TABLES = ("ticket_messages", "ticket_events", "sla_breaches")
# 0003's `ticket_id IN (SELECT id FROM tickets)` became a hashed scan of every visible ticket
# per statement (the create path fell from 420/s to 113/s at c=1 and on with the table's size):
# correlated, it is one primary-key lookup, the tickets policy applied to it.
TICKET_VISIBLE = "EXISTS (SELECT 1 FROM tickets t WHERE t.id = {table}.ticket_id)"
OLD_TICKET_VISIBLE = "ticket_id IN (SELECT id FROM tickets)"

# The create inserts a ticket and its first event in one statement, and a statement does not
# see its own rows: a companion row may name a ticket nobody can see yet. The foreign key
# (checked at the statement's end) makes that the ticket this statement inserted, which
# passed the tickets policy itself; a ticket that exists and is not visible is refused.
EXISTS = """
CREATE FUNCTION ticketing_ticket_exists(ticket uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT EXISTS (SELECT 1 FROM tickets WHERE id = ticket)
$$
"""

# 'number:<n>' / 'ticket:<uuid>': the public tracking lookup, before any principal exists.
TRACKED = """
CREATE FUNCTION ticketing_tracked(kind text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN current_setting('ticketing.tenant_id', true) LIKE kind || ':%'
        THEN substr(current_setting('ticketing.tenant_id', true), length(kind) + 2) END
$$
"""


def upgrade() -> None:
    # 0003's default privileges cover tables made by the role that ran it; a deployment whose
    # later migrations ran as another role gets its grants here, and keeps them from now on.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES "
        f"TO {APP_ROLE}"
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} "
            "USING (ticketing_tenant_visible(tenant_id)) "
            "WITH CHECK (ticketing_tenant_visible(tenant_id))"
        )
    op.execute(EXISTS)
    op.execute("REVOKE ALL ON FUNCTION ticketing_ticket_exists(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION ticketing_ticket_exists(uuid) TO {APP_ROLE}")
    for table in TICKET_TABLES:
        op.execute(f"DROP POLICY tenant_scope ON {table}")
        visible = TICKET_VISIBLE.format(table=table)
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} USING ({visible}) "
            # A new ticket's companions (the create) skip the subquery: OR keeps its order.
            f"WITH CHECK (NOT ticketing_ticket_exists(ticket_id) OR {visible})"
        )
    op.execute(TRACKED)
    # Read only, one ticket: a second permissive policy, ORed with tenant_scope.
    op.execute(
        f"CREATE POLICY tracked ON tickets FOR SELECT TO {APP_ROLE} "
        "USING (number::text = ticketing_tracked('number') "
        "OR id::text = ticketing_tracked('ticket'))"
    )
    # The subquery reads tickets under their policies: only a tracked ticket's owner.
    op.execute(
        f"CREATE POLICY tracked ON customers FOR SELECT TO {APP_ROLE} "
        "USING (COALESCE(ticketing_tracked('number'), ticketing_tracked('ticket')) IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM tickets k "
        "WHERE k.tenant_id = customers.tenant_id AND k.customer_id = customers.id))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS tracked ON customers")
    op.execute("DROP POLICY IF EXISTS tracked ON tickets")
    op.execute("DROP FUNCTION IF EXISTS ticketing_tracked(text)")
    for table in TICKET_TABLES:
        op.execute(f"DROP POLICY tenant_scope ON {table}")
        op.execute(
            f"CREATE POLICY tenant_scope ON {table} TO {APP_ROLE} USING ({OLD_TICKET_VISIBLE}) "
            f"WITH CHECK ({OLD_TICKET_VISIBLE})"
        )
    op.execute("DROP FUNCTION IF EXISTS ticketing_ticket_exists(uuid)")
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_scope ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
