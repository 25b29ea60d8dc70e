"""The mail share of the load: messages handed to `ticketing mail serve` over SMTP as an MTA
would (a 4xx or a dropped connection means try again later, 250 means accepted, 5xx means
give up), and appended to Dovecot mailboxes the worker's IMAP poller fetches. While the load
runs, a sampler reads which IMAP messages are flagged done and then whether their outcome is
committed: a flag seen before its outcome is a flag set too early."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import random
import re
import smtplib
import time
from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chaos.plan import TENANTS, Clock
from chaos.plan_mail import IMAP_PASSWORD, Delivery, MailMessage, imap_user
from ticketing.db.engine import make_engine
from ticketing.mail.models import InboundMail
from ticketing_ops.dovecot import Dovecot

DONE = "$TicketingDone"
_MESSAGE_ID = re.compile(rb"<[^<>\s]+>")


class TryLater(Exception):
    """A temporary failure: the sender keeps the message and tries again."""


class MailLoad:
    def __init__(self, smtp_port: int, imap: Dovecot, clock: Clock, rng: random.Random) -> None:
        self.smtp_port = smtp_port
        self.imap = imap
        self.clock = clock
        self.rng = rng
        self.retries = Counter[str]()

    # -- SMTP, as an MTA --

    def _smtp_once(self, mail: MailMessage, delivery: Delivery) -> str:
        """One SMTP transaction (blocking). Returns the final reply; raises TryLater."""
        try:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
                smtp.ehlo("chaos-mta.test")
                code, reply = smtp.mail(mail.sender)
                if code != 250:
                    return self._refused("MAIL", code, reply)
                code, reply = smtp.rcpt(mail.mailbox("smtp"))
                if code not in (250, 251):
                    return self._refused("RCPT", code, reply)
                code, reply = smtp.data(mail.raw(delivery.door))
                if code != 250:
                    return self._refused("DATA", code, reply)
                return f"250 {reply.decode(errors='replace')}"
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
            raise TryLater(type(error).__name__) from error

    def _refused(self, stage: str, code: int, reply: bytes) -> str:
        text = f"{stage} {code} {reply.decode(errors='replace')}"
        if 400 <= code < 500:
            raise TryLater(text)
        raise RuntimeError(f"permanent: {text}")

    # -- IMAP, as a mail store the poller reads --

    def _append_once(self, mail: MailMessage, delivery: Delivery) -> str:
        try:
            client = imaplib.IMAP4("127.0.0.1", self.imap.port, timeout=10)
            try:
                client.login(imap_user(mail.tenant_id), IMAP_PASSWORD)
                status, data = client.append("INBOX", None, None, mail.raw(delivery.door))
            finally:
                with contextlib.suppress(OSError, imaplib.IMAP4.error):
                    client.logout()
        except (OSError, imaplib.IMAP4.error) as error:
            raise TryLater(type(error).__name__) from error
        if status != "OK":
            raise TryLater(f"APPEND {status} {data!r}")
        return "APPEND OK"

    async def deliver(self, mail: MailMessage, delivery: Delivery, deadline: float) -> None:
        await asyncio.sleep(max(0.0, self.clock.t0 + delivery.release_at - time.monotonic()))
        once = self._smtp_once if delivery.door == "smtp" else self._append_once
        delay = 0.3
        while True:
            delivery.attempts += 1
            try:
                delivery.answers.append(await asyncio.to_thread(once, mail, delivery))
                delivery.accepted = True
                return
            except TryLater as later:
                delivery.answers.append(f"try later: {later}"[:200])
                self.retries[f"{delivery.door}: {str(later)[:40]}"] += 1
            except Exception as error:  # noqa: BLE001 - reported by the intake checks
                delivery.error = repr(error)[:300]
                return
            if time.monotonic() + delay > deadline:
                delivery.error = f"gave up after {delivery.attempts} attempts"
                return
            await asyncio.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 4.0)

    async def drive(self, mails: list[MailMessage], deadline: float) -> None:
        slots = asyncio.Semaphore(8)

        async def one(mail: MailMessage, delivery: Delivery) -> None:
            await asyncio.sleep(max(0.0, self.clock.t0 + delivery.release_at - time.monotonic()))
            async with slots:
                await self.deliver(mail, delivery, deadline)

        await asyncio.gather(*(one(m, d) for m in mails for d in m.deliveries))


def flagged_message_ids(imap: Dovecot, tenant: str) -> set[str]:
    """The Message-IDs of the tenant's IMAP messages flagged done (blocking)."""
    client = imaplib.IMAP4("127.0.0.1", imap.port, timeout=10)
    try:
        client.login(imap_user(tenant), IMAP_PASSWORD)
        client.select("INBOX", readonly=True)
        _, data = client.uid("SEARCH", "KEYWORD", DONE)
        uids = b",".join((data[0] or b"").split()) if data else b""
        if not uids:
            return set()
        _, fetched = client.uid("FETCH", uids.decode(), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = set()
        for item in fetched:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                match = _MESSAGE_ID.search(item[1])
                if match:
                    found.add(match.group(0).decode())
        return found
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


class FlagSampler:
    """Reads the flags, then the outcomes: any flagged message without a committed outcome
    at the later read was flagged before its outcome committed."""

    def __init__(self, imap: Dovecot, owner_url: str) -> None:
        self.imap = imap
        self.owner_url = owner_url
        self.samples = 0
        self.flags_seen = 0
        self.early: set[str] = set()  # "tenant Message-ID"

    async def run(self, stop: asyncio.Event) -> None:
        engine = make_engine(self.owner_url)
        try:
            while not stop.is_set():
                with contextlib.suppress(Exception):  # PostgreSQL down: no sample this time
                    await self.sample(engine)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.5)
        finally:
            await engine.dispose()

    async def sample(self, engine: AsyncEngine) -> None:
        flagged = {
            tenant: await asyncio.to_thread(flagged_message_ids, self.imap, tenant)
            for tenant in TENANTS
        }
        wanted = {key for keys in flagged.values() for key in keys}
        if not wanted:
            return
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(InboundMail.tenant_id, InboundMail.message_key).where(
                    InboundMail.message_key.in_(wanted), InboundMail.outcome.is_not(None)
                )
            )
            decided = {(tenant, key) for tenant, key in rows}
        self.samples += 1
        for tenant, keys in flagged.items():
            self.flags_seen += len(keys)
            self.early |= {f"{tenant} {key}" for key in keys if (tenant, key) not in decided}
