"""Realistic inbound messages as bytes: what MUAs and MTAs really send."""

from __future__ import annotations

import base64
import quopri
from email.message import EmailMessage
from email.policy import SMTP

MAILBOX = "support@acme.test"


def plain(
    sender: str = "jane@example.com",
    subject: str = "No internet since this morning",
    body: str = "Hello,\nmy router shows a red light.\nJane",
    *,
    to: str = MAILBOX,
    cc: str | None = None,
    message_id: str | None = "<m1@mail.example.com>",
    headers: dict[str, str] | None = None,
    name: str | None = "Jane Doe",
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = "Tue, 08 Dec 2026 09:15:00 +0100"
    if message_id:
        message["Message-ID"] = message_id
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(body)
    return message.as_bytes()


def quoted_printable_latin1(message_id: str = "<qp1@mail.example.de>") -> bytes:
    body = "Grüße aus Köln: das Modem blinkt rot, bitte prüfen.\n"
    encoded = quopri.encodestring(body.encode("latin-1")).decode("ascii")
    return (
        "From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen@example.de>\r\n"
        f"To: {MAILBOX}\r\n"
        "Subject: =?ISO-8859-1?Q?St=F6rung_in_K=F6ln?=\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="iso-8859-1"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n" + encoded.replace("\n", "\r\n")
    ).encode("ascii")


def base64_utf8_japanese(message_id: str = "<b64@mail.example.jp>") -> bytes:
    body = base64.encodebytes("インターネットに接続できません。\n".encode()).decode()
    subject = "=?UTF-8?B?" + base64.b64encode("接続障害".encode()).decode() + "?="
    return (
        "From: taro@example.jp\r\n"
        f"To: {MAILBOX}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n" + body.replace("\n", "\r\n")
    ).encode("ascii")


def koi8_subject(message_id: str = "<koi8@mail.example.ru>") -> bytes:
    subject = "=?KOI8-R?B?" + base64.b64encode("Нет связи".encode("koi8-r")).decode() + "?="
    return (
        "From: ivan@example.ru\r\n"
        f"To: {MAILBOX}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n"
        "Content-Type: text/plain; charset=koi8-r\r\n"
        "\r\n"
    ).encode("ascii") + "Роутер не работает.\r\n".encode("koi8-r")


def html_only(sender: str = "jane@example.com", message_id: str = "<html1@x>") -> bytes:
    html = (
        "<html><head><style>p { color: red }</style><script>alert('x')</script></head>"
        "<body><p>Speed is &lt; 1&nbsp;Mbit/s &amp; drops.</p><ul><li>since Monday</li></ul>"
        "</body></html>"
    )
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = MAILBOX
    message["Subject"] = "Slow line"
    message["Message-ID"] = message_id
    message.set_content(html, subtype="html")
    return message.as_bytes()


def gmail_reply(
    sender: str, subject: str, in_reply_to: str, message_id: str = "<gmail-r1@mail.gmail.com>"
) -> bytes:
    body = (
        "It works again, thanks!\n\n"
        "On Tue, Dec 8, 2026 at 10:00 AM Acme ISP <support@acme.test> wrote:\n"
        "> We reset your line.\n> Kind regards\n"
    )
    return plain(
        sender,
        subject,
        body,
        message_id=message_id,
        headers={"In-Reply-To": in_reply_to, "References": in_reply_to},
    )


def outlook_reply(
    sender: str, subject: str, message_id: str = "<outlook-r1@x.outlook.com>"
) -> bytes:
    body = (
        "Still broken after the restart.\r\n\r\n"
        "________________________________\r\n"
        "From: Acme ISP <support@acme.test>\r\n"
        "Sent: Tuesday, December 8, 2026 10:00 AM\r\n"
        f"To: {sender}\r\n"
        f"Subject: {subject}\r\n\r\n"
        "We reset your line.\r\n"
    )
    return plain(sender, f"RE: {subject}", body, message_id=message_id, name=None)


def with_attachment(sender: str = "jane@example.com", message_id: str = "<att1@x>") -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = MAILBOX
    message["Subject"] = "Photo of the router"
    message["Message-ID"] = message_id
    message.set_content("See the photo attached.")
    message.add_attachment(
        b"\x89PNG\r\n\x1a\nfake-png-bytes",
        maintype="image",
        subtype="png",
        filename="../../router photo.png",
    )
    message.add_attachment(
        b"log line 1\nlog line 2\n", maintype="text", subtype="plain", filename="modem.log"
    )
    return message.as_bytes()


def out_of_office(sender: str = "jane@example.com", message_id: str = "<ooo1@x>") -> bytes:
    return plain(
        sender,
        "Automatic reply: [TKT-000001] We received your request",
        "I am out of office until Monday.",
        message_id=message_id,
        headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
    )


def list_mail(message_id: str = "<list1@lists.example.org>") -> bytes:
    return plain(
        "announce@lists.example.org",
        "[announce] New release",
        "Hello list",
        message_id=message_id,
        headers={"List-Id": "<announce.lists.example.org>", "Precedence": "list"},
    )


def dsn(failed_recipient: str, original_message_id: str, message_id: str = "<dsn1@mx>") -> bytes:
    """An RFC 3464 delivery status notification as Postfix sends it."""
    boundary = "B0UNDARY"
    return (
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
        f"To: {MAILBOX}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {message_id}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n"
        "Arrival-Date: Tue, 8 Dec 2026 10:00:00 +0100\r\n\r\n"
        f"Final-Recipient: rfc822; {failed_recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed_recipient}>: Recipient address rejected\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: Acme ISP <{MAILBOX}>\r\n"
        f"To: {failed_recipient}\r\n"
        f"Message-ID: {original_message_id}\r\n"
        "Subject: [TKT-000001] We received your request\r\n"
        f"--{boundary}--\r\n"
    ).encode("ascii")


def exim_bounce(failed_recipient: str, message_id: str = "<exim1@mx>") -> bytes:
    """An old-style (non-RFC 3464) Exim bounce, which only flufl.bounce recognises."""
    return (
        "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\r\n"
        f"To: {MAILBOX}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        f"X-Failed-Recipients: {failed_recipient}\r\n"
        f"Message-ID: {message_id}\r\n"
        "\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        f"  {failed_recipient}\r\n"
        "    SMTP error from remote mail server after RCPT TO:<x>:\r\n"
        "    host mx.example.com: 550 no such user\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        "Subject: hello\r\n\r\nhello\r\n"
    ).encode("ascii")


def no_header_block() -> bytes:
    return b"just some text without any header\r\nsecond line\r\n"


def no_from(message_id: str = "<nofrom@x>") -> bytes:
    return (
        f"To: {MAILBOX}\r\nSubject: who am I\r\nMessage-ID: {message_id}\r\n\r\nbody\r\n"
    ).encode()
