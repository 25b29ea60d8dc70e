"""Delivery against real SMTP servers: TLS, credentials, and every failure classified."""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.notifications.smtp_support import (
    CONTENT_REFUSED,
    LATER,
    REFUSED,
    LineRecorder,
    RecordingHandler,
    Tls,
    free_port,
    make_tls,
    smtp_server,
)
from ticketing.notifications.delivery import (
    DeliveryStatus,
    MailConfigError,
    MailTransport,
    RetryPolicy,
    SmtpEndpoint,
    deliver_notice,
)
from ticketing.notifications.rendering import Notice, NoticeKind, render_notice

DOMAIN = "mail.acme.test"
TICKET = uuid.UUID("6f1c1d9e-0d7a-4a43-9a55-0b8f7f1e2a11")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(Path(tmp_path_factory.mktemp("tls")))


def notice(recipient: str = "jane@example.com", **changes: object) -> Notice:
    fields: dict[str, object] = {
        "id": 17,
        "kind": NoticeKind.SUPPORT_REPLIED,
        "ticket_id": TICKET,
        "ticket_number": "TKT-000042",
        "title": "No internet <script>alert(1)</script>",
        "priority": "high",
        "status": "open",
        "recipient": recipient,
        "sender_name": "Acme ISP",
        "sender_address": "support@acme.test",
        "tracking_url": "https://help.acme.test/track/tok123",
        "reply_body": "Please restart the router.\nThen wait 2 minutes.",
    }
    fields.update(changes)
    return Notice(**fields)  # type: ignore[arg-type]


def mail(recipient: str = "jane@example.com", **changes: object) -> EmailMessage:
    return render_notice(notice(recipient, **changes), domain=DOMAIN)


async def test_plain_server_receives_one_threaded_message_with_both_parts() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        outcome = await MailTransport.from_url(f"smtp://127.0.0.1:{port}").deliver(mail())
    assert outcome.status is DeliveryStatus.SENT, outcome
    [got] = handler.received
    assert got.recipients == ["jane@example.com"]
    assert not got.encrypted  # this server offers no STARTTLS
    message = got.message
    assert message["Message-ID"] == f"<notification-17.TKT-000042@{DOMAIN}>"
    assert message["In-Reply-To"] == f"<ticket-{TICKET}@{DOMAIN}>"
    assert message["References"] == f"<ticket-{TICKET}@{DOMAIN}>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert str(message["Subject"]).startswith("[TKT-000042] ")
    assert message["From"].addresses[0].display_name == "Acme ISP"
    assert message["From"].addresses[0].addr_spec == "support@acme.test"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "> Please restart the router." in text.get_content()
    assert "<script>alert(1)</script>" in text.get_content()  # text is shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()
    assert 'href="https://help.acme.test/track/tok123"' in html.get_content()


async def test_recipient_refused_with_550_is_permanent_with_the_servers_reason() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        outcome = await MailTransport.from_url(f"smtp://127.0.0.1:{port}").deliver(mail(REFUSED))
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.code == 550
    assert "mailbox unavailable" in outcome.reason
    assert handler.received == []


async def test_recipient_deferred_with_451_is_transient() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        outcome = await MailTransport.from_url(f"smtp://127.0.0.1:{port}").deliver(mail(LATER))
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.code == 451
    assert "try again later" in outcome.reason


async def test_content_refused_at_data_is_permanent() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        transport = MailTransport.from_url(f"smtp://127.0.0.1:{port}")
        outcome = await transport.deliver(mail(title=f"x {CONTENT_REFUSED}"))
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.code == 554


async def test_connection_refused_is_transient() -> None:
    port = free_port()  # nothing listens there any more
    outcome = await MailTransport.from_url(f"smtp://127.0.0.1:{port}", timeout=2).deliver(mail())
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.code is None
    assert "connect" in outcome.reason.lower()


async def test_a_server_that_never_greets_times_out_as_transient() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = MailTransport.from_url(f"smtp://127.0.0.1:{port}", timeout=0.3)
        started = asyncio.get_running_loop().time()
        outcome = await transport.deliver(mail())
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        server.close()
    assert outcome.status is DeliveryStatus.RETRY
    assert "timed out" in outcome.reason.lower() or "timeout" in outcome.reason.lower()
    assert elapsed < 2


async def test_smtp_url_upgrades_by_starttls_when_the_server_offers_it(tls: Tls) -> None:
    handler = RecordingHandler()
    with smtp_server(handler, starttls=tls.server, require_starttls=True) as port:
        transport = MailTransport.from_url(f"smtp://127.0.0.1:{port}", tls_context=tls.client)
        outcome = await transport.deliver(mail())
    assert outcome.status is DeliveryStatus.SENT, outcome
    assert [r.encrypted for r in handler.received] == [True]


async def test_an_untrusted_certificate_is_not_accepted(tls: Tls) -> None:
    handler = RecordingHandler()
    with smtp_server(handler, starttls=tls.server) as port:
        outcome = await MailTransport.from_url(f"smtp://127.0.0.1:{port}").deliver(mail())
    assert outcome.status is DeliveryStatus.RETRY
    assert "certificate" in outcome.reason.lower()
    assert handler.received == []


async def test_credentials_go_only_over_starttls_when_auth_is_offered_after_it(tls: Tls) -> None:
    handler = RecordingHandler()
    with smtp_server(handler, starttls=tls.server, auth=True) as port:
        transport = MailTransport.from_url(
            f"smtp://desk:s3cret@127.0.0.1:{port}", tls_context=tls.client
        )
        outcome = await transport.deliver(mail())
    assert outcome.status is DeliveryStatus.SENT, outcome
    assert handler.logins == [(b"desk", b"s3cret", True)]
    assert [r.encrypted for r in handler.received] == [True]


async def test_wrong_credentials_are_a_permanent_failure(tls: Tls) -> None:
    handler = RecordingHandler()
    with smtp_server(handler, starttls=tls.server, auth=True) as port:
        transport = MailTransport.from_url(
            f"smtp://desk:wrong@127.0.0.1:{port}", tls_context=tls.client
        )
        outcome = await transport.deliver(mail())
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.code == 535
    assert handler.received == []


async def test_credentials_are_never_sent_on_a_plain_connection() -> None:
    """aiosmtpd offering AUTH without TLS: we refuse before AUTH, nothing is delivered."""
    handler = RecordingHandler()
    with smtp_server(handler, auth=True, auth_require_tls=False) as port:
        transport = MailTransport.from_url(f"smtp://desk:s3cret@127.0.0.1:{port}")
        outcome = await transport.deliver(mail())
    assert outcome.status is DeliveryStatus.FAILED
    assert "cleartext" in outcome.reason
    assert handler.logins == []
    assert handler.received == []


async def test_not_one_byte_of_the_password_reaches_a_plain_server() -> None:
    recorder = LineRecorder()
    await recorder.start()
    try:
        transport = MailTransport.from_url(f"smtp://desk:s3cret@127.0.0.1:{recorder.port}")
        outcome = await transport.deliver(mail())
    finally:
        await recorder.stop()
    assert outcome.status is DeliveryStatus.FAILED
    sent = b"".join(recorder.lines)
    assert sent.upper().startswith(b"EHLO")  # the session did happen
    assert b"AUTH" not in sent.upper()
    assert b"s3cret" not in sent
    assert b"czNjcmV0" not in sent  # base64 of the password


async def test_smtps_uses_implicit_tls(tls: Tls) -> None:
    handler = RecordingHandler()
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this whole connection is TLS.
    with smtp_server(handler, implicit_tls=tls.server, auth=True, auth_require_tls=False) as port:
        transport = MailTransport.from_url(
            f"smtps://desk:s3cret@127.0.0.1:{port}", tls_context=tls.client
        )
        outcome = await transport.deliver(mail())
    assert outcome.status is DeliveryStatus.SENT, outcome
    assert handler.logins == [(b"desk", b"s3cret", True)]
    assert [r.encrypted for r in handler.received] == [True]


async def test_required_starttls_without_server_support_is_permanent() -> None:
    handler = RecordingHandler()
    with smtp_server(handler) as port:
        outcome = await MailTransport.from_url(f"smtp+starttls://127.0.0.1:{port}").deliver(mail())
    assert outcome.status is DeliveryStatus.FAILED
    assert "STARTTLS" in outcome.reason
    assert handler.received == []


async def test_a_bad_address_fails_permanently_without_a_crash_or_a_connection() -> None:
    port = free_port()  # a connection attempt would come back as RETRY, not FAILED
    transport = MailTransport.from_url(f"smtp://127.0.0.1:{port}")
    for bad in ("jané@example.com", "not an address", "a@b.com\r\nBcc: evil@x", ""):
        outcome = await deliver_notice(transport, notice(bad), domain=DOMAIN)
        assert outcome.status is DeliveryStatus.FAILED, bad
        assert "recipient" in outcome.reason


async def test_a_message_with_more_than_one_recipient_is_refused() -> None:
    message = mail()
    message["Cc"] = "boss@example.com"
    outcome = await MailTransport.from_url(f"smtp://127.0.0.1:{free_port()}").deliver(message)
    assert outcome.status is DeliveryStatus.FAILED
    assert "one To" in outcome.reason


def test_smtp_urls_parse_and_keep_the_password_out_of_repr() -> None:
    endpoint = SmtpEndpoint.from_url("smtp://desk%40acme:p%2Fw@relay.acme.test")
    assert (endpoint.host, endpoint.port, endpoint.username, endpoint.password) == (
        "relay.acme.test",
        25,
        "desk@acme",
        "p/w",
    )
    assert "p/w" not in repr(endpoint)
    assert "p/w" not in repr(MailTransport(endpoint))
    assert SmtpEndpoint.from_url("smtps://relay").port == 465
    assert SmtpEndpoint.from_url("smtp+starttls://relay").port == 587
    for bad in ("http://relay", "smtp://", "smtp://relay:notaport", "smtp://user@relay"):
        with pytest.raises(MailConfigError):
            SmtpEndpoint.from_url(bad)


def test_retry_backoff_doubles_up_to_a_cap_and_stops_at_the_bound() -> None:
    policy = RetryPolicy()
    delays = [policy.delay_after(n) for n in range(1, 10)]
    assert [d.total_seconds() if d else None for d in delays] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        None,
        None,
    ]
    capped = RetryPolicy(max_attempts=20)
    assert capped.delay_after(15) == capped.max_delay
