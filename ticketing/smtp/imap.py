"""The IMAP door: fetch a mailbox's new messages, take each through the intake flow, and mark
it done on the server only after its outcome is committed.

A crash between the commit and the flag leaves the message unflagged: the next fetch takes
it again and the intake answers `duplicate` (same tenant, same Message-ID or bytes), then it
is flagged. Nothing is lost and nothing is doubled. imaplib runs in a thread (it blocks);
each call is bounded by a socket timeout.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
import ssl
from dataclasses import dataclass, field

import structlog

from ticketing.mail.flows import MailIntake
from ticketing.mail.mailboxes import ImapAccount

log = structlog.get_logger(__name__)

# Our own keyword: other clients' \Seen (a person reading the mailbox) does not hide mail
# from intake, and intake's mark is unmistakable.
DONE = "$TicketingDone"
_UIDS = re.compile(rb"\d+")


class ImapError(Exception):
    """The IMAP server refused or could not be reached; the next poll tries again."""


@dataclass
class FetchReport:
    mailbox: str
    fetched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    # More new messages than one pass takes: the next pass continues.
    more: bool = False


class ImapSession:
    """One logged-in IMAP connection on the folder to fetch (blocking; use in a thread)."""

    def __init__(self, account: ImapAccount, *, timeout: float, tls: ssl.SSLContext | None):
        self.account = account
        try:
            if account.secure:
                self.client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    account.host, account.port, ssl_context=tls, timeout=timeout
                )
            else:
                self.client = imaplib.IMAP4(account.host, account.port, timeout=timeout)
            self.client.login(account.user, account.password)
            status, _ = self.client.select(_quoted(account.folder))
        except (OSError, imaplib.IMAP4.error) as error:
            raise ImapError(f"imap: {account.host}:{account.port}: {error}") from error
        if status != "OK":
            raise ImapError(f"imap: cannot select {account.folder!r}")

    def new_uids(self) -> list[str]:
        status, data = self.client.uid("SEARCH", "UNKEYWORD", DONE)
        if status != "OK":
            raise ImapError(f"imap: search failed: {data!r}")
        found = _UIDS.findall(b" ".join(d for d in data if isinstance(d, bytes)))
        return [uid.decode() for uid in found]

    def fetch(self, uid: str) -> bytes | None:
        # PEEK: fetching does not mark the message read; only the committed outcome does.
        status, data = self.client.uid("FETCH", uid, "(BODY.PEEK[])")
        if status != "OK":
            raise ImapError(f"imap: fetch failed: {data!r}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None  # expunged meanwhile

    def mark_done(self, uid: str) -> None:
        status, data = self.client.uid("STORE", uid, "+FLAGS", f"({DONE} \\Seen)")
        if status != "OK":
            raise ImapError(f"imap: store failed: {data!r}")

    def close(self) -> None:
        try:
            self.client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


async def fetch_mailbox(
    intake: MailIntake,
    address: str,
    account: ImapAccount,
    *,
    limit: int = 100,
    timeout: float = 30.0,
    tls: ssl.SSLContext | None = None,
) -> FetchReport:
    """Take up to `limit` new messages of one mailbox through intake, each flagged after
    its outcome committed. A storage error stops the pass with the message unflagged."""
    report = FetchReport(address)
    session = await asyncio.to_thread(ImapSession, account, timeout=timeout, tls=tls)
    try:
        uids = await asyncio.to_thread(session.new_uids)
        report.more = len(uids) > limit
        for uid in uids[:limit]:
            raw = await asyncio.to_thread(session.fetch, uid)
            if raw is None:
                continue
            result = await intake.receive(raw, recipients=(address,))
            await asyncio.to_thread(session.mark_done, uid)
            report.fetched += 1
            report.outcomes[result.outcome.value] = report.outcomes.get(result.outcome.value, 0) + 1
    finally:
        await asyncio.to_thread(session.close)
    if report.fetched:
        log.info("imap_fetched", mailbox=address, **report.outcomes)
    return report


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
