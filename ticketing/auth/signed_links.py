"""Customer tracking credentials: signed expiring ticket links, form tokens, the secret key."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import struct
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ticketing.core.errors import TicketingError
from ticketing.runtime.settings import Settings

SECRET_FILE = "secret.key"
_TAG = 16
_LINK = struct.Struct(">16sI")
MIN_SECRET_CHARS = 32


class MissingSecretKey(TicketingError):
    """A configured deployment must share one TICKETING_SECRET_KEY across its processes."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _unb64(text: str, size: int) -> bytes | None:
    """Exactly `size` bytes as unpadded base64url, else None: no padding, no other alphabet,
    nothing before or after, so one token has one spelling only."""
    if len(text) != -(-size * 4 // 3) or not _B64URL.issuperset(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Unused low bits of the last character must be zero (else two spellings decode alike).
    return raw if len(raw) == size and _b64(raw) == text else None


@dataclass(frozen=True)
class TrackingTokens:
    """HMAC-SHA256 tokens under one secret; each purpose has a key of its own."""

    secret: bytes

    def _key(self, purpose: bytes) -> bytes:
        return hmac.digest(self.secret, b"ticketing-tracking:" + purpose, "sha256")

    def link(self, ticket_id: uuid.UUID, *, expires: datetime) -> str:
        """A URL-safe token that opens `ticket_id` until `expires` (48 characters)."""
        payload = _LINK.pack(ticket_id.bytes, int(expires.timestamp()))
        tag = hmac.digest(self._key(b"link"), payload, "sha256")[:_TAG]
        return _b64(payload + tag)

    def open_link(self, token: str, *, now: datetime | None = None) -> uuid.UUID | None:
        """The ticket a genuine, unexpired token names; None for anything else."""
        raw = _unb64(token, _LINK.size + _TAG)
        if raw is None:
            return None
        payload, tag = raw[: _LINK.size], raw[_LINK.size :]
        expected = hmac.digest(self._key(b"link"), payload, "sha256")[:_TAG]
        if not hmac.compare_digest(tag, expected):
            return None
        ticket_bytes, expires = _LINK.unpack(payload)
        if expires <= (now or datetime.now(UTC)).timestamp():
            return None
        return uuid.UUID(bytes=ticket_bytes)

    def form_token(self, browser_id: str) -> str:
        """The anti-CSRF token for a browser's forms: derived from its cookie, so a page
        rendered twice for one browser is byte for byte the same."""
        return _b64(hmac.digest(self._key(b"csrf"), browser_id.encode(), "sha256")[:18])

    def check_form_token(self, browser_id: str | None, token: str | None) -> bool:
        if not browser_id or not token or len(browser_id) > 128:
            return False
        return hmac.compare_digest(self.form_token(browser_id).encode(), token.encode("utf-8"))


def new_browser_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class TrackingLinks:
    """Links customers follow: `{public_url}/track/{token}`, valid for `lifetime`."""

    tokens: TrackingTokens
    public_url: str
    lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackingLinks:
        return cls(
            TrackingTokens(secret_key(settings)),
            settings.public_url.rstrip("/"),
            timedelta(days=settings.tracking_link_days),
        )

    def url(self, ticket_id: uuid.UUID, *, now: datetime | None = None) -> str:
        expires = (now or datetime.now(UTC)) + self.lifetime
        return f"{self.public_url}/track/{self.tokens.link(ticket_id, expires=expires)}"


def secret_key(settings: Settings) -> bytes:
    """TICKETING_SECRET_KEY; on the embedded stack a generated key kept 0600 in its home."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < MIN_SECRET_CHARS:
            raise MissingSecretKey(
                f"secret_key: TICKETING_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters",
                field="secret_key",
            )
        return value.encode()
    if settings.database_url:
        raise MissingSecretKey(
            "secret_key: set TICKETING_SECRET_KEY (e.g. `openssl rand -base64 48`), the same "
            "for every process that serves or mails tracking links",
            field="secret_key",
        )
    return _embedded_secret(Path(settings.home))


def _embedded_secret(home: Path) -> bytes:
    from ticketing.db.embedded import make_private_dirs

    make_private_dirs(home)
    path = home / SECRET_FILE
    # O_EXCL: of two processes starting together one writes, the other reads that key.
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
    path.chmod(0o600)
    for _ in range(50):
        value = path.read_text().strip()
        if value:
            return value.encode()
        # Created a moment ago by another process that has not written yet.
        time.sleep(0.01)
    raise MissingSecretKey(f"secret_key: {path} is empty", field="secret_key")


def email_digest(email: str) -> bytes:
    """Fixed-length form of an address for constant-time comparison (case-insensitive)."""
    return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).digest()
