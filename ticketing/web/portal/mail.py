"""The sign-in link's mail: sent straight through the SMTP transport, not the outbox.

The outbox is for notices about a ticket (the dispatcher renders each row from its ticket) and
keeps what it sends; this mail has no ticket, and its link is a credential the database keeps
only as a digest. A link lives 15 minutes, so a retry later is worth little: whoever did not
get one asks again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import structlog

from ticketing.notifications.delivery import DeliveryStatus, MailTransport
from ticketing.runtime.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SignInMail:
    """Without a transport (no TICKETING_SMTP_URL) the mail is only logged, without its link."""

    transport: MailTransport | None
    sender: str = "tickets@localhost"

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInMail:
        transport = (
            MailTransport.from_url(settings.smtp_url, timeout=settings.smtp_timeout)
            if settings.smtp_url
            else None
        )
        return cls(transport, settings.smtp_sender)

    def message(self, *, recipient: str, org: str, url: str, minutes: int) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr((org, self.sender))
        mail["To"] = recipient
        mail["Subject"] = f"Your sign-in link for {org}"
        domain = self.sender.rpartition("@")[2] or "localhost"
        mail["Message-ID"] = f"<portal.{secrets.token_hex(16)}@{domain}>"
        mail["Date"] = format_datetime(datetime.now(UTC))
        # RFC 3834: no auto-reply should answer it.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(
            f"Someone asked to sign in to {org}'s customer portal with this address.\n\n"
            f'Open this link and press "Sign in" (it works once, for {minutes} minutes):\n\n'
            f"{url}\n\n"
            "If it was not you, ignore this mail: nobody can sign in without the link.\n"
        )
        return mail

    async def send(self, *, recipient: str, org: str, url: str, minutes: int) -> None:
        """Deliver; a failure is logged (never raised: the page was already answered)."""
        if self.transport is None:
            log.info("portal_sign_in_link", recipient=recipient, delivered=False)
            return
        mail = self.message(recipient=recipient, org=org, url=url, minutes=minutes)
        outcome = await self.transport.deliver(mail)
        if outcome.status is not DeliveryStatus.SENT:
            log.warning("portal_sign_in_mail_failed", status=outcome.status, reason=outcome.reason)
