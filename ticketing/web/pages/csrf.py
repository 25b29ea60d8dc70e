"""Anti-CSRF tokens for page forms: random, compared in constant time. A channel binds them to
what it trusts (a server-side session, a signed browser cookie); the kit only makes and
compares them."""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf"


def new_token() -> str:
    """A fresh token (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Both present and equal; a missing or oversized token never matches."""
    if not expected or not given or len(given) > 256:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
