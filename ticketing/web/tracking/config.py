"""What the tracking pages run with: the signing key, link lifetime, limits and the ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from ticketing.auth.lookup_limits import TrackingLimits
from ticketing.auth.signed_links import TrackingTokens, secret_key
from ticketing.runtime.settings import Settings
from ticketing.tickets.ports import Notices, Watchers


class TrackingPorts(Protocol):
    """The database and the after-commit ports a customer's reply runs its flow with (the
    API's ports object fits as it is)."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def watchers(self) -> Watchers: ...

    @property
    def notices(self) -> Notices: ...


async def app_state_ports(request: Request) -> TrackingPorts:
    """The ports the app keeps in `app.state.ports`, as the API's app factory does."""
    ports: TrackingPorts | None = getattr(request.app.state, "ports", None)
    if ports is None:
        raise HTTPException(503, "the tracking pages are starting")
    return ports


@dataclass(frozen=True)
class TrackingConfig:
    tokens: TrackingTokens
    # How long the reply form of a page opened by number and email keeps working.
    page_lifetime: timedelta = timedelta(hours=12)
    limits: TrackingLimits = field(default_factory=TrackingLimits)
    # Seconds every lookup takes at least (equal work first, this floor on top).
    lookup_floor: float = 0.05
    # Mark cookies Secure (the public URL is https).
    secure_cookies: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackingConfig:
        return cls(
            tokens=TrackingTokens(secret_key(settings)),
            secure_cookies=settings.public_url.startswith("https://"),
        )
