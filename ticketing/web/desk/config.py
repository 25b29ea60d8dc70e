"""What the desk runs with: the secret its throttle keys are derived from, cookie rules, the
session and throttle rules, and the public URL share text links to."""

from __future__ import annotations

from dataclasses import dataclass, field

from ticketing.auth.signed_links import secret_key
from ticketing.runtime.settings import Settings
from ticketing.teams.signin import DeskRules


@dataclass(frozen=True)
class DeskConfig:
    secret: bytes
    # Mark the session cookie Secure (the public URL is https).
    secure_cookies: bool = False
    rules: DeskRules = field(default_factory=DeskRules)
    public_url: str = "http://127.0.0.1:8000"
    # How often an open queue asks for its rows again (seconds; the contract says within 5).
    live_every: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeskConfig:
        return cls(
            secret=secret_key(settings),
            secure_cookies=settings.public_url.startswith("https://"),
            public_url=settings.public_url,
        )
