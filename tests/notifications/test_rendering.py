"""Rendering: threading headers, folded user text, escaped HTML, typed address failures."""

from __future__ import annotations

import uuid
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import cast

import pytest

from ticketing.notifications.rendering import (
    Audience,
    InvalidAddress,
    Notice,
    NoticeKind,
    UndeliverableNotice,
    header_text,
    mail_domain,
    render_notice,
    ticket_id_from_references,
)

DOMAIN = "mail.acme.test"
TICKET = uuid.UUID("6f1c1d9e-0d7a-4a43-9a55-0b8f7f1e2a11")
EXPECTED_HEADERS = {
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "MIME-Version",
    "Content-Type",
}


def notice(**changes: object) -> Notice:
    fields: dict[str, object] = {
        "id": 5,
        "kind": NoticeKind.TICKET_CREATED,
        "ticket_id": TICKET,
        "ticket_number": "TKT-000007",
        "title": "Slow line",
        "priority": "normal",
        "status": "open",
        "recipient": "jane@example.com",
        "sender_name": "Acme ISP",
        "sender_address": "support@acme.test",
        "payload": {
            "kind": "resolution",
            "due_at": "2026-11-23T10:00Z",
            "level": 1,
            "from_level": 1,
            "to_level": 2,
            "target_type": "partner",
        },
        "tracking_url": "https://help.acme.test/track/tok",
        "reply_body": "Line one\nLine <two>",
    }
    fields.update(changes)
    return Notice(**fields)  # type: ignore[arg-type]


def wire(message: EmailMessage) -> EmailMessage:
    """The message as a receiver parses it from the bytes we would send."""
    return cast(EmailMessage, message_from_bytes(bytes(message), policy=default_policy))


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_renders_threaded_with_both_parts(kind: NoticeKind) -> None:
    message = wire(render_notice(notice(kind=kind), domain=DOMAIN))
    assert set(message.keys()) == EXPECTED_HEADERS
    assert str(message["Subject"]).startswith("[TKT-000007] ")
    assert message["Message-ID"] == f"<notification-5.TKT-000007@{DOMAIN}>"
    assert message["In-Reply-To"] == message["References"] == f"<ticket-{TICKET}@{DOMAIN}>"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    assert "TKT-000007" in text and "TKT-000007" in html
    link = "https://help.acme.test/track/tok"
    # Customers always get their tracking link; the desk never gets a customer's token.
    assert (link in text) is (kind.audience is Audience.CUSTOMER)
    assert (link in html) is (kind.audience is Audience.CUSTOMER)


def test_customer_and_desk_kinds_and_no_internal_note_kind() -> None:
    customer = {k.value for k in NoticeKind if k.audience is Audience.CUSTOMER}
    assert customer == {
        "ticket_created",
        "support_replied",
        "waiting_on_customer",
        "ticket_resolved",
        "ticket_reopened",
        "ticket_merged",
        "pending_reminder",
        "pending_closed",
        "outage_update",
        "outage_resolved",
    }
    assert not [k for k in NoticeKind if "internal" in k or "note" in k]


def test_message_id_is_per_row_and_installation_and_stable_across_resends() -> None:
    first = render_notice(notice(), domain=DOMAIN)
    again = render_notice(notice(), domain=DOMAIN)
    other_row = render_notice(notice(id=6), domain=DOMAIN)
    other_install = render_notice(notice(), domain="mail.other.test")
    assert first["Message-ID"] == again["Message-ID"]
    assert len({m["Message-ID"] for m in (first, other_row, other_install)}) == 3
    # Every mail about the ticket points at one root, so they thread.
    assert first["References"] == other_row["References"]


def test_a_public_reply_is_quoted_and_escaped() -> None:
    text, html = parts(render_notice(notice(kind=NoticeKind.SUPPORT_REPLIED), domain=DOMAIN))
    assert "> Line one\n> Line <two>" in text
    assert "Line one\nLine &lt;two&gt;</blockquote>" in html


def test_script_in_a_title_is_escaped_in_html_and_verbatim_in_text() -> None:
    title = '<script>alert("x")</script> & more'
    text, html = parts(wire(render_notice(notice(title=title), domain=DOMAIN)))
    assert title in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html


@pytest.mark.parametrize(
    "title",
    [
        "x\r\nBcc: evil@x",
        "x\nBcc: evil@x",
        "x\rBcc: evil@x",
        "x\u2028Bcc: evil@x",
        "x\x85Bcc: evil@x",
        "x\x0bBcc: evil@x\x00",
    ],
)
def test_header_injection_in_a_title_or_sender_name_adds_no_header(title: str) -> None:
    sent = render_notice(notice(title=title, sender_name=title), domain=DOMAIN)
    message = wire(sent)
    assert set(message.keys()) == EXPECTED_HEADERS
    assert message["Bcc"] is None
    assert str(message["Subject"]) == "[TKT-000007] We received your request: x Bcc: evil@x"
    assert message["From"].addresses[0].display_name == "x Bcc: evil@x"
    assert message["From"].addresses[0].addr_spec == "support@acme.test"
    header_block = bytes(sent).split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in header_block


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("jané@example.com", "non-ASCII"),
        ("jane@exämple.com", "non-ASCII"),
        ("not an address", "spaces"),
        ("jane@example.com\r\nBcc: evil@x", "control"),
        ("Jane <jane@example.com>", "spaces"),
        ("jane@", "malformed"),
        ("@example.com", "malformed"),
        ("a@b@c", "malformed"),
        ("a,b@example.com", "malformed"),
        ("", "no address"),
    ],
)
def test_a_bad_recipient_is_a_typed_permanent_failure(address: str, reason: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        render_notice(notice(recipient=address), domain=DOMAIN)
    assert caught.value.field == "recipient"
    assert reason in caught.value.reason


def test_a_bad_sender_address_or_tracking_link_is_undeliverable() -> None:
    with pytest.raises(InvalidAddress) as caught:
        render_notice(notice(sender_address="desk at acme"), domain=DOMAIN)
    assert caught.value.field == "sender_address"
    for url in ("javascript:alert(1)", "https://x.test/track/a\r\nb", "/track/relative"):
        with pytest.raises(UndeliverableNotice):
            render_notice(notice(tracking_url=url), domain=DOMAIN)


def test_non_ascii_titles_and_names_are_encoded_not_refused() -> None:
    message = wire(render_notice(notice(title="Störung 🛠", sender_name="Fibrö"), domain=DOMAIN))
    assert str(message["Subject"]).endswith("Störung 🛠")
    assert message["From"].addresses[0].display_name == "Fibrö"
    assert bytes(render_notice(notice(title="Störung"), domain=DOMAIN)).isascii()


def test_header_text_folds_controls_and_line_breaks_to_single_spaces() -> None:
    assert header_text(" a\r\n\tb\u2029c\x1bd  ") == "a b c d"


def test_mail_domain_is_a_plain_host_name() -> None:
    assert mail_domain("Mail.Acme.test") == "mail.acme.test"
    for bad in ("acme.test>", "a b", "acme.test\r\n", "ex\u00e4mple.test", "", "-x.test"):
        with pytest.raises(ValueError, match="mail domain"):
            mail_domain(bad)


def test_a_reply_finds_its_ticket_from_references() -> None:
    references = f"<notification-5.TKT-000007@{DOMAIN}> <ticket-{TICKET}@{DOMAIN}>"
    assert ticket_id_from_references(references, DOMAIN) == TICKET
    assert ticket_id_from_references(references, "mail.other.test") is None
    assert ticket_id_from_references("<abc@x>", DOMAIN) is None
