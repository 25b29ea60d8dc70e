"""Real SMTP servers for mail tests: aiosmtpd in a thread, a self-signed CA, a line recorder."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REFUSED = "refused@example.com"  # 550 at RCPT
LATER = "later@example.com"  # 451 at RCPT
CONTENT_REFUSED = "REFUSE-CONTENT"  # a subject containing this gets 554 at DATA


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    encrypted: bool


@dataclass
class RecordingHandler:
    """Accepts mail except for the test recipients and content it is told to refuse."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[bytes, bytes, bool]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 <refused@example.com>: mailbox unavailable"
        if address == LATER:
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = cast(bytes, envelope.original_content or envelope.content)
        message = cast(EmailMessage, message_from_bytes(content, policy=default_policy))
        if CONTENT_REFUSED in str(message["Subject"]):
            return "554 5.6.0 message content refused"
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, encrypted(server))
        )
        return "250 2.0.0 queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password, encrypted(server)))
        ok = (auth_data.login, auth_data.password) == (b"desk", b"s3cret")
        return AuthResult(success=ok, handled=False)


def encrypted(server: SMTP) -> bool:
    """True after STARTTLS (session.ssl) and on an implicit-TLS listener (the transport)."""
    transport = server.transport
    return server.session.ssl is not None or (
        transport is not None and transport.get_extra_info("sslcontext") is not None
    )


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    # Trusts only the test CA, as a deployment would trust its relay's CA.
    client: ssl.SSLContext


def make_tls(folder: Path) -> Tls:
    """A self-signed certificate for 127.0.0.1/localhost and contexts on both sides."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Tls(server, client)


@contextmanager
def smtp_server(
    handler: RecordingHandler,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool = False,
    auth_require_tls: bool = True,
    require_starttls: bool = False,
) -> Iterator[int]:
    """aiosmtpd on 127.0.0.1 (free port) in its own thread; yields the port."""
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=implicit_tls,
        tls_context=starttls,
        require_starttls=require_starttls,
        authenticator=handler.authenticate if auth else None,
        auth_require_tls=auth_require_tls,
        ready_timeout=10.0,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@dataclass
class LineRecorder:
    """A bare SMTP server that offers AUTH on a plain connection and records every line."""

    lines: list[bytes] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 recorder ESMTP\r\n")
        while line := await reader.readline():
            self.lines.append(line)
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                writer.write(b"250-recorder\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"502 not here\r\n")
            await writer.drain()
        writer.close()
