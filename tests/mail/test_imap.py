"""IMAP intake against a real Dovecot: fetch, intake, and flag only once the outcome is
committed, so a crash neither loses nor doubles a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mail import messages as m
from tests.mail.conftest import RecordingPorts, Sessions, scalar
from ticketing.auth.principal import Principal
from ticketing.db.engine import make_engine, make_sessionmaker
from ticketing.mail.flows import MailIntake
from ticketing.mail.mailboxes import ImapAccount, MailboxService, PasswordBox, parse_imap_url
from ticketing.runtime.settings import Settings
from ticketing.smtp.imap import ImapError, fetch_mailbox
from ticketing.smtp.polling import poll_all
from ticketing_ops.devstack import find_free_port
from ticketing_ops.dovecot import PASSWORD, Dovecot, dovecot

USER = "support@acme.test"


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    with dovecot(Path(tmp_path_factory.mktemp("dovecot"))) as server:
        yield server


def account(server: Dovecot, user: str, folder: str = "INBOX") -> ImapAccount:
    return parse_imap_url(f"imap://{user}@127.0.0.1:{server.port}/{folder}", PASSWORD)


async def test_fetched_mail_is_taken_once_and_flagged_after_its_outcome(
    imap: Dovecot, intake: MailIntake, seeded: Sessions
) -> None:
    user = "fetch1@acme.test"
    imap.deliver(user, m.plain(), m.out_of_office(), m.plain())
    report = await fetch_mailbox(intake, USER, account(imap, user))
    assert report.fetched == 3
    assert report.outcomes == {"created": 1, "ignored": 1, "duplicate": 1}
    assert imap.unflagged(user) == 0
    again = await fetch_mailbox(intake, USER, account(imap, user))
    assert again.fetched == 0
    assert await scalar(seeded, "SELECT count(*) FROM tickets") == 1


async def test_a_crash_between_commit_and_flag_gives_a_duplicate_not_a_second_ticket(
    imap: Dovecot, intake: MailIntake, seeded: Sessions
) -> None:
    user = "fetch2@acme.test"
    raw = m.plain(message_id="<crash@x>")
    imap.deliver(user, raw)
    # What a poller that died right after the commit leaves: committed, never flagged.
    assert (await intake.receive(raw, recipients=(USER,))).outcome.value == "created"
    assert imap.unflagged(user) == 1
    report = await fetch_mailbox(intake, USER, account(imap, user))
    assert report.outcomes == {"duplicate": 1}
    assert imap.unflagged(user) == 0
    assert await scalar(seeded, "SELECT count(*) FROM tickets") == 1


async def test_storage_down_leaves_the_message_on_the_server(
    imap: Dovecot, ports: RecordingPorts
) -> None:
    user = "fetch3@acme.test"
    imap.deliver(user, m.plain(message_id="<down@x>"))
    unreachable = f"postgresql+asyncpg://nobody:x@127.0.0.1:{find_free_port()}/none"
    engine = make_engine(unreachable, Settings(db_pool_size=1, db_max_overflow=0))
    intake = MailIntake(make_sessionmaker(engine), watchers=ports, notices=ports)
    try:
        with pytest.raises(OSError, match="Connect call failed"):
            await fetch_mailbox(intake, USER, account(imap, user))
    finally:
        await engine.dispose()
    assert imap.unflagged(user) == 1


async def test_a_wrong_password_or_folder_is_an_imap_error(
    imap: Dovecot, intake: MailIntake
) -> None:
    wrong = parse_imap_url(f"imap://x@127.0.0.1:{imap.port}/INBOX", "not-the-password")
    with pytest.raises(ImapError):
        await fetch_mailbox(intake, USER, wrong)
    with pytest.raises(ImapError):
        await fetch_mailbox(intake, USER, account(imap, "fetch4@acme.test", "Nowhere"))


async def test_the_poller_fetches_every_imap_mailbox_with_its_stored_password(
    imap: Dovecot, intake: MailIntake, seeded: Sessions
) -> None:
    passwords = PasswordBox(b"a-test-secret-of-at-least-thirty-two-characters")
    async with seeded() as s, s.begin():
        await MailboxService(s, Principal.platform()).add(
            "imap@globex.test",
            tenant_id="globex",
            imap=account(imap, "poll@globex.test", "Support"),
            passwords=passwords,
        )
    imap.deliver(
        "poll@globex.test", m.plain("bob@example.com", message_id="<p1@x>"), folder="Support"
    )
    report = await poll_all(seeded, intake, passwords, limit=10)
    assert (report.fetched, report.outcomes, report.unreachable) == (1, {"created": 1}, {})
    assert await scalar(seeded, "SELECT tenant_id FROM tickets") == "globex"
    # Another key cannot open the stored password: reported, never a crash of the pass.
    with pytest.raises(Exception, match="imap_password"):
        await poll_all(seeded, intake, PasswordBox(b"another-secret-another-secret-000"), 10)
