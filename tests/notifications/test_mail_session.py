"""Several messages over one SMTP connection: refusals keep it, a closing server gets a new one."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.notifications.smtp_support import LATER, REFUSED, RecordingHandler, smtp_server
from tests.notifications.test_delivery import mail
from ticketing.notifications.delivery import (
    MESSAGES_PER_CONNECTION,
    DeliveryStatus,
    MailTransport,
)


@dataclass
class PerConnection(RecordingHandler):
    """Counts transactions per connection; says 421 at the `close_at`-th MAIL of each one."""

    close_at: int | None = None
    mails: dict[int, int] = field(default_factory=dict)
    _sessions: list[Session] = field(default_factory=list)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not any(known is session for known in self._sessions):
            self._sessions.append(session)
        index = next(i for i, known in enumerate(self._sessions) if known is session)
        self.mails[index] = self.mails.get(index, 0) + 1
        if self.mails[index] == self.close_at:
            return "421 4.7.0 too many messages on this connection, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


async def test_refusals_keep_the_connection_for_the_next_message() -> None:
    handler = PerConnection()
    with smtp_server(handler) as port:
        async with MailTransport.from_url(f"smtp://127.0.0.1:{port}").session() as session:
            outcomes = [
                await session.deliver(mail(to))
                for to in ("jane@example.com", REFUSED, LATER, "bob@example.com")
            ]
    assert [(o.status, o.code) for o in outcomes] == [
        (DeliveryStatus.SENT, None),
        (DeliveryStatus.FAILED, 550),
        (DeliveryStatus.RETRY, 451),
        (DeliveryStatus.SENT, None),
    ]
    assert handler.mails == {0: 4}
    assert [r.recipients for r in handler.received] == [["jane@example.com"], ["bob@example.com"]]


async def test_a_server_closing_a_kept_connection_gets_the_message_on_a_new_one() -> None:
    handler = PerConnection(close_at=2)
    with smtp_server(handler) as port:
        async with MailTransport.from_url(f"smtp://127.0.0.1:{port}").session() as session:
            outcomes = [await session.deliver(mail(f"c{n}@example.com")) for n in range(3)]
    assert all(o.status is DeliveryStatus.SENT for o in outcomes), outcomes
    # Each connection took one mail, then said 421 to the next, which went on a new one.
    assert handler.mails == {0: 2, 1: 2, 2: 1}
    assert [r.recipients[0] for r in handler.received] == [f"c{n}@example.com" for n in range(3)]


async def test_a_connection_is_renewed_after_so_many_messages() -> None:
    handler = PerConnection()
    count = MESSAGES_PER_CONNECTION + 1
    with smtp_server(handler) as port:
        async with MailTransport.from_url(f"smtp://127.0.0.1:{port}").session() as session:
            for n in range(count):
                outcome = await session.deliver(mail(f"c{n}@example.com"))
                assert outcome.status is DeliveryStatus.SENT, outcome
    assert handler.mails == {0: MESSAGES_PER_CONNECTION, 1: 1}
    assert len(handler.received) == count
