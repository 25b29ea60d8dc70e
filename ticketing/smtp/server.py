"""The SMTP intake door: aiosmtpd on this event loop, each message through the intake flow.

RCPT to an address that is no mailbox → 550; a message over the size limit → 552 (aiosmtpd's
SIZE limit); storage unavailable → 451 (the sending MTA retries); 250 only once every
recipient's outcome is committed, so an accepted message is never lost and a retried one is
a duplicate, never a second ticket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from ticketing.mail.errors import NoMailbox
from ticketing.mail.flows import IntakeResult, MailIntake

log = structlog.get_logger(__name__)

UNKNOWN_MAILBOX = "550 5.1.1 No such mailbox here"
STORAGE_DOWN = "451 4.3.0 Mail storage unavailable, try again later"
ACCEPTED = "250 2.0.0 Accepted"
GONE = "550 5.1.1 No such mailbox here (any more)"
# Addresses remembered as mailboxes, at most (then forgotten all at once and looked up again).
KNOWN_MAX = 10_000


@dataclass
class IntakeHandler:
    """aiosmtpd's handler: thin, everything else is the intake flow's."""

    intake: MailIntake
    # Addresses found to be mailboxes: RCPT to them needs no lookup of its own (a round trip
    # of a dozen per mail). Only "is a mailbox" is remembered, a fact nothing retracts (an
    # address stays with its tenant; there is no removal); what a mailbox allows is read by
    # the intake at DATA, and an address no lookup found is looked up every time.
    known: set[str] = field(default_factory=set)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() not in self.known:
            try:
                mailbox = await self.intake.mailbox_for((address.lower(),))
            except Exception as error:  # noqa: BLE001 - any storage trouble is "try later"
                log.warning("mail_rcpt_storage_down", error=str(error))
                return STORAGE_DOWN
            if mailbox is None:
                return UNKNOWN_MAILBOX
            if len(self.known) >= KNOWN_MAX:
                self.known.clear()
            self.known.add(mailbox.address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        results: list[IntakeResult] = []
        for recipient in dict.fromkeys(r.lower() for r in envelope.rcpt_tos):
            try:
                results.append(await self.intake.receive(raw, recipients=(recipient,)))
            except NoMailbox:
                continue  # not a mailbox (any more): nothing to keep it for
            except Exception as error:  # noqa: BLE001 - committed recipients are duplicates later
                log.warning("mail_data_storage_down", error=str(error))
                return STORAGE_DOWN
        if not results:
            return GONE  # refused, not accepted and dropped: the sender learns of it
        outcomes = ",".join(r.outcome.value for r in results)
        return f"{ACCEPTED} ({outcomes})"


@asynccontextmanager
async def smtp_intake(
    intake: MailIntake, *, host: str, port: int, max_bytes: int
) -> AsyncIterator[asyncio.Server]:
    """Serve SMTP on host:port on this event loop until the block exits."""
    handler = IntakeHandler(intake)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="ticketing",
            ident="ticketing mail intake",
        ),
        host=host,
        port=port,
    )
    log.info("mail_intake_listening", host=host, port=port)
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()
