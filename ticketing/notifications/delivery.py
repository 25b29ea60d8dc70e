"""SMTP delivery of one rendered message, with every failure classified permanent or transient."""

from __future__ import annotations

import asyncio
import ssl
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
    """Sends one message per call to one recipient over a fresh, bounded SMTP session."""

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

    async def deliver(
        self, message: EmailMessage, *, envelope_sender: str | None = None
    ) -> DeliveryOutcome:
        """Send to the message's single To address; never raises for a delivery failure."""
        recipient = _single_recipient(message)
        if recipient is None:
            return DeliveryOutcome(DeliveryStatus.FAILED, "a message must have exactly one To")
        client = self._client()
        try:
            async with asyncio.timeout(self.timeout * 6):
                return await self._session(client, message, recipient, envelope_sender)
        except Exception as error:  # every failure becomes an outcome the dispatcher records
            return classify(error)
        finally:
            await _close(client)

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

    async def _session(
        self,
        client: aiosmtplib.SMTP,
        message: EmailMessage,
        recipient: str,
        envelope_sender: str | None = None,
    ) -> DeliveryOutcome:
        await client.connect()
        if self.endpoint.username is not None:
            if client.get_transport_info("sslcontext") is None:
                return DeliveryOutcome(
                    DeliveryStatus.FAILED,
                    f"refused to send SMTP credentials in cleartext: {self.endpoint.host}:"
                    f"{self.endpoint.port} offered no STARTTLS (use smtps:// or enable STARTTLS)",
                )
            await client.login(self.endpoint.username, self.endpoint.password or "")
        _, reply = await client.send_message(
            message, sender=envelope_sender or self.envelope_sender, recipients=[recipient]
        )
        return DeliveryOutcome(DeliveryStatus.SENT, reply, None)


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
