"""What the desk runs with: the secret its throttle keys are derived from, cookie rules, the
session and throttle rules, the public URL share text links to, and where files go."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ticketing.auth.signed_links import secret_key
from ticketing.runtime.settings import Settings
from ticketing.teams.signin import DeskRules
from ticketing.tickets.attachments.store import AttachmentStores, PostgresStore
from ticketing.web.pages.uploads import UploadLimits


@dataclass(frozen=True)
class DeskConfig:
    secret: bytes
    # Mark the session cookie Secure (the public URL is https).
    secure_cookies: bool = False
    rules: DeskRules = field(default_factory=DeskRules)
    public_url: str = "http://127.0.0.1:8000"
    # How often an open queue asks for its rows again (seconds; the contract says within 5).
    live_every: float = 3.0
    # Files on replies and notes: the portal's limits, kept where the deployment keeps files.
    limits: UploadLimits = field(default_factory=UploadLimits)
    stores: AttachmentStores = field(default_factory=lambda: AttachmentStores(PostgresStore()))

    @classmethod
    def from_settings(cls, settings: Settings) -> DeskConfig:
        return cls(
            secret=secret_key(settings),
            secure_cookies=settings.public_url.startswith("https://"),
            public_url=settings.public_url,
            stores=AttachmentStores.configured(
                settings.attachment_store,
                settings.attachment_dir or Path(settings.home) / "attachments",
            ),
        )
