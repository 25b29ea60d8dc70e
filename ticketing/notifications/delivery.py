"""SMTP delivery of one rendered message, with every failure classified permanent or transient."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.utils import getaddresses
from enum import StrEnum
from urllib.parse import unquote, urlsplit

import aiosmtplib

from ticketing.notifications.rendering import Notice, UndeliverableNotice, render_notice


class DeliveryStatus(StrEnum):
    SENT = "sent"
    # Permanent: resending cannot help (5xx, bad address, refused content, configuration).
    FAILED = "failed"
    # Transient: the same mail may go through later (4xx, connection trouble, timeout).
    RETRY = "retry"


@dataclass(frozen=True)
class DeliveryOutcome:
    status: DeliveryStatus
    reason: str = ""
    # The SMTP reply code behind the outcome; None for connection trouble or local refusal.
    code: int | None = None

    @property
    def sent(self) -> bool:
        return self.status is DeliveryStatus.SENT


class MailConfigError(ValueError):
    """The SMTP URL cannot be used; raised when the transport is built, not per message."""


class _Mode(StrEnum):
    OPPORTUNISTIC = "smtp"
    REQUIRED_STARTTLS = "smtp+starttls"
    IMPLICIT_TLS = "smtps"


_DEFAULT_PORTS = {_Mode.OPPORTUNISTIC: 25, _Mode.REQUIRED_STARTTLS: 587, _Mode.IMPLICIT_TLS: 465}


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to connect, parsed from `smtp://`, `smtp+starttls://` or `smtps://`."""

    mode: _Mode
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpEndpoint:
        parts = urlsplit(url)
        try:
            mode = _Mode(parts.scheme)
            port = parts.port
        except ValueError as error:
            raise MailConfigError(f"TICKETING_SMTP_URL: {error}") from None
        if not parts.hostname:
            raise MailConfigError("TICKETING_SMTP_URL: no host")
        if (parts.username is None) != (parts.password is None):
            raise MailConfigError("TICKETING_SMTP_URL: give both user and password, or neither")
        return cls(
            mode=mode,
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[mode],
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for transient failures, with a bound after which the row counts as failed."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay_after(self, attempts: int) -> timedelta | None:
        """How long to wait after `attempts` failed tries; None once the bound is reached."""
        if attempts >= self.max_attempts:
            return None
        return min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay)


class MailTransport:
    """Sends to one recipient per message, over a fresh bounded SMTP session per call
    (`deliver`) or over one connection reused for several messages (`session`)."""

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        *,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        envelope_sender: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.tls_context = tls_context
        # Bounds each step; the whole session is bounded by a few steps' worth.
        self.timeout = timeout
        self.envelope_sender = envelope_sender
        self.local_hostname = local_hostname

    @classmethod
    def from_url(
        cls, url: str, *, tls_context: ssl.SSLContext | None = None, timeout: float = 10.0
    ) -> MailTransport:
        return cls(SmtpEndpoint.from_url(url), tls_context=tls_context, timeout=timeout)

    def __repr__(self) -> str:
        return f"MailTransport({self.endpoint!r})"

    @property
    def message_bound(self) -> float:
        """Seconds one message may take at most, connecting included (six steps' worth)."""
        return self.timeout * 6

    async def deliver(
        self, message: EmailMessage, *, envelope_sender: str | None = None
    ) -> DeliveryOutcome:
        """Send to the message's single To address; never raises for a delivery failure."""
        async with self.session() as session:
            return await session.deliver(message, envelope_sender=envelope_sender)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[MailSession]:
        """One connection for several messages, closed (QUIT) on leaving."""
        session = MailSession(self)
        try:
            yield session
        finally:
            await session.close()

    def _client(self) -> aiosmtplib.SMTP:
        mode = self.endpoint.mode
        return aiosmtplib.SMTP(
            hostname=self.endpoint.host,
            port=self.endpoint.port,
            use_tls=mode is _Mode.IMPLICIT_TLS,
            # None: upgrade whenever the server offers STARTTLS.
            start_tls={_Mode.OPPORTUNISTIC: None, _Mode.REQUIRED_STARTTLS: True}.get(mode, False),
            tls_context=self.tls_context,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )

    async def _open(self, client: aiosmtplib.SMTP) -> DeliveryOutcome | None:
        """Connect and log in; an outcome when the connection must not be used."""
        await client.connect()
        if self.endpoint.username is not None:
            if client.get_transport_info("sslcontext") is None:
                return DeliveryOutcome(
                    DeliveryStatus.FAILED,
                    f"refused to send SMTP credentials in cleartext: {self.endpoint.host}:"
                    f"{self.endpoint.port} offered no STARTTLS (use smtps:// or enable STARTTLS)",
                )
            await client.login(self.endpoint.username, self.endpoint.password or "")
        return None


# A server may cap the messages of one connection (Exchange: 20 by default) and say so with a
# 421 or by hanging up: a fresh connection is opened before reaching that many.
MESSAGES_PER_CONNECTION = 20


class MailSession:
    """Several messages over one SMTP connection, each to one recipient and bounded on its own.

    aiosmtplib resets the envelope (RSET) after a refused step, so a refusal touches only its
    own message and the connection is kept. A connection the server closed between messages is
    seen closed and replaced before the next one; when a kept connection answers 421 (closing)
    or refuses MAIL FROM, the message is tried once more on a fresh connection (nothing of it
    was accepted). Any failure without a reply (timeout, connection lost) drops the connection
    and is the message's outcome; the next message opens a new connection.
    """

    def __init__(self, transport: MailTransport) -> None:
        self.transport = transport
        self._client: aiosmtplib.SMTP | None = None
        self._sent = 0

    async def deliver(
        self, message: EmailMessage, *, envelope_sender: str | None = None
    ) -> DeliveryOutcome:
        """Send to the message's single To address; never raises for a delivery failure."""
        recipient = _single_recipient(message)
        if recipient is None:
            return DeliveryOutcome(DeliveryStatus.FAILED, "a message must have exactly one To")
        sender = envelope_sender or self.transport.envelope_sender
        try:
            async with asyncio.timeout(self.transport.message_bound):
                return await self._deliver(message, recipient, sender)
        except Exception as error:  # every failure becomes an outcome the dispatcher records
            outcome = classify(error)
            if not _answered(error) or outcome.code == 421:
                await self.close()  # mid-command, or closing: the connection is of no more use
            return outcome

    async def _deliver(
        self, message: EmailMessage, recipient: str, sender: str | None
    ) -> DeliveryOutcome:
        client = self._client
        if client is not None and client.is_connected and self._sent < MESSAGES_PER_CONNECTION:
            try:
                return await self._send(client, message, recipient, sender)
            except Exception as error:
                if not _connection_gone(error):
                    raise
        await self.close()
        self._client = client = self.transport._client()
        refusal = await self.transport._open(client)
        if refusal is not None:
            return refusal
        return await self._send(client, message, recipient, sender)

    async def _send(
        self, client: aiosmtplib.SMTP, message: EmailMessage, recipient: str, sender: str | None
    ) -> DeliveryOutcome:
        self._sent += 1
        _, reply = await client.send_message(message, sender=sender, recipients=[recipient])
        return DeliveryOutcome(DeliveryStatus.SENT, reply, None)

    async def close(self) -> None:
        client, self._client, self._sent = self._client, None, 0
        if client is not None:
            await _close(client)


def _answered(error: BaseException) -> bool:
    """The server replied to a command (aiosmtplib then resets the envelope with RSET)."""
    return isinstance(error, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused)


def _connection_gone(error: BaseException) -> bool:
    """A reused connection the server is closing, or in a state of its own: worth one try on a
    new one, as the server accepted nothing of the message (it said 421, or refused MAIL FROM,
    perhaps after a reset that failed; a new connection tells). A connection lost without a
    reply is not retried here: the data may have been accepted, and a repeat must show as a
    counted attempt (the dispatcher's retry), never as a silent one."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPSenderRefused):
        return True
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code == 421


def classify(error: BaseException) -> DeliveryOutcome:
    """Permanent for 5xx replies and anything resending cannot fix; transient otherwise."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPResponseException):
        status = DeliveryStatus.FAILED if 500 <= error.code < 600 else DeliveryStatus.RETRY
        return DeliveryOutcome(status, f"{error.code} {error.message}", error.code)
    if isinstance(error, TimeoutError):
        return DeliveryOutcome(DeliveryStatus.RETRY, f"timeout: {error}".rstrip(": "))
    if isinstance(error, OSError | ssl.SSLError | aiosmtplib.SMTPServerDisconnected):
        return DeliveryOutcome(DeliveryStatus.RETRY, f"connection: {error}")
    if isinstance(error, UnicodeError | ValueError):
        return DeliveryOutcome(DeliveryStatus.FAILED, f"unencodable message: {error}")
    # Left: the server lacks something we need (AUTH, SMTPUTF8, STARTTLS when required).
    return DeliveryOutcome(DeliveryStatus.FAILED, f"{type(error).__name__}: {error}")


async def deliver_notice(
    transport: MailTransport, notice: Notice, *, domain: str
) -> DeliveryOutcome:
    """Render and send one notice; a notice that can never be a mail is a permanent failure."""
    try:
        message = render_notice(notice, domain=domain)
    except UndeliverableNotice as error:
        return DeliveryOutcome(DeliveryStatus.FAILED, error.message)
    return await transport.deliver(message)


def _single_recipient(message: EmailMessage) -> str | None:
    addresses: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        for header in message.get_all(name, []):
            if isinstance(header, AddressHeader):
                addresses += [a.addr_spec for a in header.addresses]
            else:
                addresses += [a for _, a in getaddresses([str(header)])]
    if len(addresses) != 1 or message.get("To") is None:
        return None
    return addresses[0]


async def _close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await asyncio.wait_for(client.quit(), timeout=1.0)
    except Exception:  # the outcome is already decided; just drop the line
        client.close()
