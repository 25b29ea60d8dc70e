"""What the portal runs with: the secret, cookie rules, link and session rules, the mail that
carries sign-in links, upload limits and the attachments port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ticketing.auth.signed_links import secret_key
from ticketing.runtime.settings import Settings
from ticketing.tenants.portal_signin import PortalRules, real_clock
from ticketing.tickets.attachments.store import AttachmentStores
from ticketing.web.portal.attachments import DomainAttachments
from ticketing.web.portal.mail import SignInMail
from ticketing.web.portal.uploads import AttachmentPort, UploadLimits


@dataclass(frozen=True)
class PortalConfig:
    secret: bytes
    mail: SignInMail
    # Mark the cookies Secure (the public URL is https).
    secure_cookies: bool = False
    rules: PortalRules = field(default_factory=PortalRules)
    # Base of the link in the mail.
    public_url: str = "http://127.0.0.1:8000"
    limits: UploadLimits = field(default_factory=UploadLimits)
    # Where a new ticket's files go (the attachments domain); None: uploads are refused.
    attachments: AttachmentPort | None = None
    # Every answer to "Send me a link" leaves no sooner than this after it began (seconds),
    # whether a link was made or not.
    answer_floor: float = 0.05
    # The time the link and session rules go by (tests move it instead of waiting).
    clock: Callable[[], datetime] = real_clock

    @classmethod
    def from_settings(cls, settings: Settings) -> PortalConfig:
        return cls(
            secret=secret_key(settings),
            mail=SignInMail.from_settings(settings),
            secure_cookies=settings.public_url.startswith("https://"),
            public_url=settings.public_url.rstrip("/"),
            attachments=DomainAttachments(
                AttachmentStores.configured(
                    settings.attachment_store,
                    settings.attachment_dir or Path(settings.home) / "attachments",
                ),
                UploadLimits().file_bytes,
            ),
        )
