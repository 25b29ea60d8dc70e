"""The chaos run's mail server: aiosmtpd that refuses some recipients, goes down, and slows."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.smtp import SMTP, Envelope, Session

# Refused for good (550 at RCPT): the customers the driver gives this prefix, and one tenant's
# desk address, the case that once made breach mail repeat a hundred times.
REFUSED_PREFIX = "refused-"
REFUSED_ADDRESSES = frozenset({"support@chaos-c.test"})


def is_refused(address: str) -> bool:
    return address.lower().startswith(REFUSED_PREFIX) or address.lower() in REFUSED_ADDRESSES


class _Handler:
    def __init__(self, server: FaultySmtp) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if is_refused(address):
            self.server.refused[address.lower()] += 1
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=default_policy)
        for recipient in envelope.rcpt_tos:
            self.server.messages.append(
                (recipient, str(message["Subject"]), str(message["Message-ID"]))
            )
        return "250 queued"


class FaultySmtp:
    """Records every delivered message (recipient, subject, Message-ID) and every refusal."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.refused: Counter[str] = Counter()
        self.delay = 0.0  # seconds each DATA takes while "slow"
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = int(probe.getsockname()[1])
        loop = asyncio.get_running_loop()
        handler = _Handler(self)
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="chaos-smtp", data_size_limit=10_000_000),
            "127.0.0.1",
            self.port,
            reuse_address=True,
        )

    async def stop(self) -> None:
        """Down: the port refuses connections until start() (same port) is called."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    @property
    def running(self) -> bool:
        return self._server is not None
