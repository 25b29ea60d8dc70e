"""The CLI never prints a database password, whatever the URL looks like."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from tests.conftest import APP_PASSWORD
from tests.ops.support import in_thread
from ticketing.db.engine import safe_url
from ticketing_ops.cli import app

MARK = "Zx"
# Anything a person may type into a password, URL delimiters included.
PASSWORD_TEXT = st.text(alphabet=string.printable.strip(), max_size=20)
SHAPES = (
    "postgresql+asyncpg://app:{raw}@db.internal:5432/ticketing",
    "postgresql+asyncpg://app:{quoted}@db.internal:5432/ticketing",
    "postgresql://app:{raw}@/ticketing?host=/run/postgresql",
    "postgresql+asyncpg://app@db.internal/ticketing?password={quoted}",
    "postgresql+asyncpg://app@db.internal/ticketing?sslpassword={raw}&application_name=x",
    "postgresql+asyncpg://app:{raw}@db.internal/ticketing?application_name=a@b",
    "app:{raw}@db.internal/ticketing",
    "{raw}",
)


@given(text=PASSWORD_TEXT, shape=st.sampled_from(SHAPES))
def test_safe_url_shows_no_part_of_the_password(text: str, shape: str) -> None:
    # The mark at both ends finds a password printed whole or cut at either end.
    password = f"{MARK}{text}{MARK}"
    url = shape.format(raw=password, quoted=quote(password, safe=""))
    shown = safe_url(url)
    assert MARK not in shown, (url, shown)
    assert quote(MARK) not in shown


def test_safe_url_keeps_what_locates_the_database() -> None:
    shown = safe_url("postgresql+asyncpg://app:secret@db.internal:5432/ticketing?ssl=require")
    assert shown == "postgresql+asyncpg://app:***@db.internal:5432/ticketing?ssl=require"
    assert safe_url("postgresql://db.internal/ticketing") == "postgresql://db.internal/ticketing"


def migrate(url: str) -> Result:
    runner = CliRunner()
    return in_thread(
        lambda: runner.invoke(app, ["migrate", "--json"], env={"TICKETING_DATABASE_URL": url})
    )


def test_migrate_reports_the_database_without_its_password(database_url: str) -> None:
    result = migrate(database_url)
    assert result.exit_code == 0, result.stderr
    assert "database_url" in result.stdout
    assert APP_PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"po:stgres://app:{MARK}s3cret{MARK}@/nowhere",
        f"postgresql+asyncpg://app:{MARK}s3@c/ret{MARK}@127.0.0.1:1/db",
        f"postgresql+asyncpg://app@127.0.0.1:1/db?password={MARK}s3cret{MARK}",
    ],
)
def test_a_failing_url_is_not_echoed(url: str) -> None:
    result = migrate(url)
    assert result.exit_code == 2
    assert MARK not in result.stdout + result.stderr


def test_an_ampersand_in_a_query_password_hides_what_follows() -> None:
    """Found by the property test: `Zx&=Zx` made `=Zx…` look like another parameter."""
    shown = safe_url(
        f"postgresql+asyncpg://app@db.internal/ticketing?sslpassword={MARK}Zx&=Zx{MARK}"
        "&application_name=x"
    )
    assert MARK not in shown and "Zx" not in shown
    assert shown == "postgresql+asyncpg://app@db.internal/ticketing?sslpassword=***"
