"""Row-level security on the email channel's tables: a query that forgets the tenant filter
still sees one tenant's mailboxes, mail, participants and attachments."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.mail import messages as m
from tests.mail.conftest import Sessions
from ticketing.auth.principal import Principal
from ticketing.db import rls
from ticketing.db.engine import make_engine, make_sessionmaker
from ticketing.mail.flows import MailIntake
from ticketing.runtime.settings import Settings

TABLES = ("mailboxes", "inbound_mails", "ticket_participants", "attachments", "attachment_blobs")


async def test_mail_tables_are_scoped_to_the_tenant(
    intake: MailIntake, seeded: Sessions, database_url: str
) -> None:
    await intake.receive(
        m.with_attachment().replace(b"Subject:", b"Cc: tom@example.org\r\nSubject:")
    )
    await intake.receive(
        m.with_attachment("bob@example.com", "<g1@x>").replace(
            b"To: support@acme.test", b"To: support@globex.test\r\nCc: amy@example.org"
        )
    )
    engine = make_engine(database_url, Settings(db_pool_size=1, db_max_overflow=0))
    sessions = make_sessionmaker(engine)
    try:
        seen: dict[str, dict[str, list[str]]] = {}
        for name, principal in (
            ("acme", Principal.tenant_agent("acme")),
            ("platform", Principal.platform()),
            ("nobody", None),
        ):
            async with sessions() as session:
                if principal is not None:
                    rls.bind_scope(session, principal)
                seen[name] = {
                    table: sorted(
                        (
                            await session.execute(text(f"SELECT DISTINCT tenant_id FROM {table}"))
                        ).scalars()
                    )
                    for table in TABLES
                }
        assert seen["acme"] == {table: ["acme"] for table in TABLES}
        assert seen["platform"] == {table: ["acme", "globex"] for table in TABLES}
        assert seen["nobody"] == {table: [] for table in TABLES}
        async with sessions() as session, session.begin():
            rls.bind_scope(session, Principal.tenant_agent("acme"))
            with pytest.raises(DBAPIError, match="row-level security"):
                await session.execute(
                    text(
                        "INSERT INTO mailboxes (address, tenant_id, senders, created_at)"
                        " VALUES ('x@globex.test', 'globex', 'anyone', now())"
                    )
                )
    finally:
        await engine.dispose()
