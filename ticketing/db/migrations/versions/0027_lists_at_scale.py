"""lists and search at 1,000,000 tickets: an index for each filter, title words and customer
emails searchable through an index under row-level security, a tenant check the planner can
inline, and the desk's counts per status kept by triggers

Revision ID: 0027
Revises: 0028
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
build: 20-25 s at 1,000,000 tickets here, docs/performance.md). On a large live table build
them beforehand with CREATE INDEX CONCURRENTLY under the same names (the statements are in
docs/performance.md): this migration then skips them (IF NOT EXISTS).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0028"
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
# words): ISP titles mix languages, and a stemmer for one would mangle the others. Plus two
# lexemes no word typed can match (a search sends letters and digits only): the tenant,
# '#<tenant id>', so a tenant's search meets only its own tickets inside the index instead of
# reading every tenant's matches from the table; and the range of numbers, '%<number / 65536>'
# (ticketing.tickets.list_repository.NUMBER_RANGE), so a search asks for the newest ranges
# first and reads a common word's matches only where the page is.
TERMS = (
    "to_tsvector('simple'::regconfig, title::text)"
    " || array_to_tsvector(ARRAY['#' || tenant_id::text, '%' || (number / 65536)::text])"
)
EMAIL_KEY = "lower(email::text)"

INDEXES = {
    # Keyset lists, newest first within the tenant: one index range per filter.
    "ix_tickets_tenant_customer_number": "tickets (tenant_id, customer_id, number)",
    "ix_tickets_tenant_team_number": "tickets (tenant_id, assigned_team, number)",
    "ix_tickets_tenant_type_number": "tickets (tenant_id, ticket_type, number)",
    "ix_tickets_tenant_breached_number": "tickets (tenant_id, number) WHERE sla_breached",
    # What partners see: escalated tickets of their tenants, newest first across them (a
    # partner has several tenants: one range per tenant would need a sort of all of them).
    "ix_tickets_escalated_number": "tickets (number) WHERE escalation_level > 1",
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

# The desk's counts per status, kept as the tickets change instead of counted per page view
# (counting the largest tenant's 200,000 tickets under its policies took 0.6 s). Each statement
# that changes tickets appends one row per (tenant, status) it moved, so writers never wait for
# each other here; a reader sums a tenant's rows; a writer that finds 32 rows of a tenant folds
# them into one per status (one folder per tenant at a time: an advisory lock it only tries;
# the others' rows it deletes stay locked until it commits, which only another folder waits
# for).
COUNTS_TABLE = """
CREATE TABLE ticket_status_counts (
    tenant_id varchar(64) NOT NULL,
    status varchar(16) NOT NULL,
    tickets bigint NOT NULL
)
"""
COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION ticketing_count_statuses() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    moved text[];
    tenant text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH added AS (
            INSERT INTO ticket_status_counts (tenant_id, status, tickets)
            SELECT tenant_id, status, count(*) FROM new_rows GROUP BY 1, 2
            RETURNING tenant_id)
        SELECT array_agg(DISTINCT tenant_id) INTO moved FROM added;
    ELSIF TG_OP = 'DELETE' THEN
        WITH added AS (
            INSERT INTO ticket_status_counts (tenant_id, status, tickets)
            SELECT tenant_id, status, -count(*) FROM old_rows GROUP BY 1, 2
            RETURNING tenant_id)
        SELECT array_agg(DISTINCT tenant_id) INTO moved FROM added;
    ELSE
        WITH added AS (
            INSERT INTO ticket_status_counts (tenant_id, status, tickets)
            SELECT tenant_id, status, sum(n) FROM (
                SELECT tenant_id, status, 1 AS n FROM new_rows
                UNION ALL
                SELECT tenant_id, status, -1 FROM old_rows) changes
            GROUP BY 1, 2 HAVING sum(n) <> 0
            RETURNING tenant_id)
        SELECT array_agg(DISTINCT tenant_id) INTO moved FROM added;
    END IF;
    FOREACH tenant IN ARRAY coalesce(moved, '{}') LOOP
        IF (SELECT count(*) FROM (SELECT 1 FROM ticket_status_counts
                                   WHERE tenant_id = tenant LIMIT 32) enough) = 32
           AND pg_try_advisory_xact_lock(hashtext('ticket_status_counts'), hashtext(tenant))
        THEN
            WITH gone AS (
                DELETE FROM ticket_status_counts WHERE tenant_id = tenant
                RETURNING status, tickets)
            INSERT INTO ticket_status_counts (tenant_id, status, tickets)
            SELECT tenant, status, sum(tickets) FROM gone
            GROUP BY status HAVING sum(tickets) <> 0;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$
"""
FORGET_FUNCTION = """
CREATE OR REPLACE FUNCTION ticketing_forget_status_counts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM ticket_status_counts;
    RETURN NULL;
END
$$
"""
COUNT_TRIGGERS = {
    "ticket_status_counts_insert": "AFTER INSERT ON tickets REFERENCING NEW TABLE AS new_rows",
    "ticket_status_counts_update": "AFTER UPDATE ON tickets "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "ticket_status_counts_delete": "AFTER DELETE ON tickets REFERENCING OLD TABLE AS old_rows",
}


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
    op.execute(COUNTS_TABLE)
    op.execute("CREATE INDEX ix_ticket_status_counts_tenant ON ticket_status_counts (tenant_id)")
    op.execute("ALTER TABLE ticket_status_counts ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_scope ON ticket_status_counts TO {APP_ROLE} "
        "USING (ticketing_tenant_visible(tenant_id))"
    )
    # Read only for the app: the triggers write as the owner.
    op.execute(f"REVOKE ALL ON ticket_status_counts FROM PUBLIC, {APP_ROLE}")
    op.execute(f"GRANT SELECT ON ticket_status_counts TO {APP_ROLE}")
    op.execute(COUNT_FUNCTION)
    op.execute(FORGET_FUNCTION)
    for name, when in COUNT_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
            "EXECUTE FUNCTION ticketing_count_statuses()"
        )
    op.execute(
        "CREATE TRIGGER ticket_status_counts_truncate AFTER TRUNCATE ON tickets "
        "FOR EACH STATEMENT EXECUTE FUNCTION ticketing_forget_status_counts()"
    )
    # The triggers' lock on tickets holds writers back until this commits: the counts start
    # exact.
    op.execute(
        "INSERT INTO ticket_status_counts (tenant_id, status, tickets) "
        "SELECT tenant_id, status, count(*) FROM tickets GROUP BY 1, 2"
    )
    # The planner's statistics for the new expressions (word frequencies for the GIN index):
    # without them a common word is planned as if it were rare.
    op.execute("ANALYZE tickets")
    op.execute("ANALYZE customers")


def downgrade() -> None:
    for name in (*COUNT_TRIGGERS, "ticket_status_counts_truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON tickets")
    op.execute("DROP FUNCTION IF EXISTS ticketing_count_statuses()")
    op.execute("DROP FUNCTION IF EXISTS ticketing_forget_status_counts()")
    op.execute("DROP TABLE IF EXISTS ticket_status_counts")
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute(OLD_VISIBLE)
    op.execute("DROP FUNCTION IF EXISTS ticketing_partner_tenants(text)")
