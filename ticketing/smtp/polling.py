"""The IMAP poller's pass and its contract shapes (activity input and report)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.db.rls import bind_system
from ticketing.mail.flows import MailIntake
from ticketing.mail.mailboxes import PasswordBox, imap_accounts
from ticketing.smtp.imap import ImapError, fetch_mailbox


class PollInput(BaseModel):
    # At most this many messages per mailbox and pass.
    limit: int = Field(default=100, ge=1, le=10_000)


class PollReport(BaseModel):
    fetched: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    # Mailboxes whose server refused or could not be reached this pass, with why.
    unreachable: dict[str, str] = Field(default_factory=dict)
    more: bool = False


class MailPollerInput(BaseModel):
    poll_seconds: float = 60.0
    limit: int = 100
    # Passes per run before continue-as-new (a short history however long it runs).
    passes_per_run: int = 100


async def poll_all(
    sessions: async_sessionmaker[AsyncSession],
    intake: MailIntake,
    passwords: PasswordBox,
    limit: int,
) -> PollReport:
    """One pass over every IMAP mailbox. An IMAP server's trouble is reported and the other
    mailboxes are still fetched; a storage error propagates (the activity retries)."""
    async with sessions() as session:
        bind_system(session)
        accounts = await imap_accounts(session, passwords)
    report = PollReport()
    for address, account in accounts:
        try:
            fetched = await fetch_mailbox(intake, address, account, limit=limit)
        except ImapError as error:
            report.unreachable[address] = str(error)[:500]
            continue
        report.fetched += fetched.fetched
        report.more = report.more or fetched.more
        for outcome, count in fetched.outcomes.items():
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + count
    return report
