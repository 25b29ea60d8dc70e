"""Tracking tokens and the secret they are signed with."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from ticketing.auth.signed_links import MissingSecretKey, TrackingLinks, TrackingTokens, secret_key
from ticketing.runtime.settings import Settings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_link_opens_its_ticket_until_it_expires_and_only_under_its_key() -> None:
    ticket = uuid.uuid4()
    tokens = TrackingTokens(b"k" * 40)
    token = tokens.link(ticket, expires=NOW + timedelta(days=1))
    assert len(token) == 48 and token.isascii()
    assert tokens.open_link(token, now=NOW) == ticket
    assert tokens.open_link(token, now=NOW + timedelta(days=1)) is None
    assert TrackingTokens(b"j" * 40).open_link(token, now=NOW) is None
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    assert tokens.open_link(flipped, now=NOW) is None
    assert tokens.open_link(token + "A", now=NOW) is None
    # A form token is not a link token, even of the same bytes.
    assert tokens.open_link(tokens.form_token(str(ticket)), now=NOW) is None


def test_form_tokens_are_stable_per_browser_and_differ_between_browsers() -> None:
    tokens = TrackingTokens(b"k" * 40)
    assert tokens.form_token("a") == tokens.form_token("a") != tokens.form_token("b")
    assert tokens.check_form_token("a", tokens.form_token("a"))
    assert not tokens.check_form_token("b", tokens.form_token("a"))
    assert not tokens.check_form_token(None, tokens.form_token("a"))
    assert not tokens.check_form_token("a", "é")


def test_the_embedded_stack_generates_one_private_key_and_keeps_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = secret_key(Settings(home=home, database_url=None, secret_key=None))
    again = secret_key(Settings(home=home, database_url=None, secret_key=None))
    assert first == again and len(first) >= 32
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_configured_database_needs_an_explicit_long_enough_key(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://u:p@db/x"
    with pytest.raises(MissingSecretKey, match="TICKETING_SECRET_KEY"):
        secret_key(Settings(home=tmp_path, database_url=url, secret_key=None))
    with pytest.raises(MissingSecretKey, match="at least 32"):
        secret_key(Settings(home=tmp_path, database_url=url, secret_key=SecretStr("short")))
    key = "x" * 32
    assert secret_key(Settings(database_url=url, secret_key=SecretStr(key))) == key.encode()
    links = TrackingLinks.from_settings(
        Settings(database_url=url, secret_key=SecretStr(key), public_url="https://t.test/")
    )
    assert links.url(uuid.uuid4()).startswith("https://t.test/track/")
