"""lists and search at 1,000,000 tickets: an index for each filter, title words and customer
emails searchable through an index under row-level security, and a tenant check the planner
can inline

Revision ID: 0027
Revises: 0023
Create Date: 2026-12-04 21:30:00

Row-level security lets the planner use an index only for conditions whose functions are
LEAKPROOF: `tsvector @@ tsquery`, `lower()` and `LIKE` are not, so under the app role a GIN
index on the title's words or an index on lower(email) is never used for the app's own
conditions (a search read every row of the tenant). Two views, owned by the tables' owner and
so read without the policies, expose what a search needs (a ticket's number and title words, a
customer's lower-cased email) for the rows `ticketing_tenant_visible` lets the transaction
see: the search's conditions meet their indexes there, and the tickets a search returns are
read from `tickets` itself, under its policies, as every list is.

The indexes are built inside the migration's transaction (writes to tickets wait while they
build: about a minute at 1,000,000 tickets, docs/performance.md). On a large live table build
them beforehand with CREATE INDEX CONCURRENTLY under the same names (the statements are in
docs/performance.md): this migration then skips them (IF NOT EXISTS).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "ticketing_app"

# Same answers as 0003's, written so the planner inlines it into each policy (a SQL function
# with a sub-select is called per row instead: ~12 µs a row, ~2.5 µs inlined). The partner
# branch, the only one that reads a table, moves into a function of its own.
VISIBLE = """
CREATE OR REPLACE FUNCTION ticketing_tenant_visible(row_tenant text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN current_setting('ticketing.tenant_id', true) = '*' THEN true
        WHEN current_setting('ticketing.tenant_id', true) LIKE 'partner:%'
            THEN row_tenant = ANY (ticketing_partner_tenants(
                substr(current_setting('ticketing.tenant_id', true), 9)))
        ELSE row_tenant = current_setting('ticketing.tenant_id', true)
    END
$$
"""
PARTNER_TENANTS = """
CREATE OR REPLACE FUNCTION ticketing_partner_tenants(partner text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(id::text), '{}') FROM tenants WHERE partner_id = partner
$$
"""
OLD_VISIBLE = """
CREATE OR REPLACE FUNCTION ticketing_tenant_visible(row_tenant text) RETURNS boolean
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

# Title words: PostgreSQL's 'simple' configuration (lower-cased words, no stemming, no stop
# words): ISP titles mix languages, and a stemmer for one would mangle the others. Plus one
# lexeme for the tenant, '#<tenant id>' (no word typed can match it: a search sends letters
# and digits only), so a tenant's search meets only its own tickets inside the index instead
# of reading every tenant's matches from the table.
TERMS = (
    "to_tsvector('simple'::regconfig, title::text)"
    " || array_to_tsvector(ARRAY['#' || tenant_id::text])"
)
EMAIL_KEY = "lower(email::text)"

INDEXES = {
    # Keyset lists, newest first within the tenant: one index range per filter.
    "ix_tickets_tenant_customer_number": "tickets (tenant_id, customer_id, number)",
    "ix_tickets_tenant_team_number": "tickets (tenant_id, assigned_team, number)",
    "ix_tickets_tenant_type_number": "tickets (tenant_id, ticket_type, number)",
    "ix_tickets_tenant_breached_number": "tickets (tenant_id, number) WHERE sla_breached",
    # What partners see: escalated tickets of their tenants.
    "ix_tickets_tenant_escalated_number": "tickets (tenant_id, number) "
    "WHERE escalation_level > 1",
    # Search.
    "ix_tickets_title_terms": f"tickets USING gin (({TERMS}))",
    "ix_customers_email_key": f"customers ({EMAIL_KEY} text_pattern_ops, tenant_id)",
}

# Plain views (not security_barrier, so the search's conditions reach the indexes), run with
# their owner's rights: each shows only rows of tenants this transaction may see, and only the
# columns a search needs.
TITLE_TERMS_VIEW = f"""
CREATE OR REPLACE VIEW ticket_title_terms AS
SELECT number, tenant_id, {TERMS} AS terms
  FROM tickets
 WHERE ticketing_tenant_visible(tenant_id)
"""
EMAIL_KEYS_VIEW = f"""
CREATE OR REPLACE VIEW customer_email_keys AS
SELECT tenant_id, id, {EMAIL_KEY} AS email_key
  FROM customers
 WHERE ticketing_tenant_visible(tenant_id)
"""
VIEWS = ("ticket_title_terms", "customer_email_keys")


def upgrade() -> None:
    op.execute(PARTNER_TENANTS)
    op.execute(VISIBLE)
    for name, target in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    op.execute(TITLE_TERMS_VIEW)
    op.execute(EMAIL_KEYS_VIEW)
    for view in VIEWS:
        # Read only: 0003's default privileges would grant the app INSERT and UPDATE on a new
        # view, and a simple view is updatable, as its owner, past every policy.
        op.execute(f"REVOKE ALL ON {view} FROM PUBLIC, {APP_ROLE}")
        op.execute(f"GRANT SELECT ON {view} TO {APP_ROLE}")
    # The planner's statistics for the new expressions (word frequencies for the GIN index):
    # without them a common word is planned as if it were rare.
    op.execute("ANALYZE tickets")
    op.execute("ANALYZE customers")


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute(OLD_VISIBLE)
    op.execute("DROP FUNCTION IF EXISTS ticketing_partner_tenants(text)")
