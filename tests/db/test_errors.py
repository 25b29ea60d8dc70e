"""A value the database refuses (SQLSTATE class 22) is bad input on every door: a 422 from
the API, a non-retryable InvalidInput from an activity; other database errors stay retryable.
With asyncpg these arrive as a plain DBAPIError, never SQLAlchemy's DataError, and from the
hot statements sent on the driver connection as asyncpg's own error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asyncpg.exceptions import PostgresError
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.boundary import activity_boundary
from tests.web.support import problem
from ticketing.db.errors import refused_value
from ticketing.web.problems import install_problem_handlers

NUL_IN_TEXT = ("SELECT CAST(:v AS text)", {"v": "a\x00b"})  # 22021
OUT_OF_RANGE = ("SELECT CAST(:v AS smallint)", {"v": "70000"})  # 22003
DIVISION_BY_ZERO = ("SELECT 1 / CAST(:v AS int)", {"v": "0"})  # 22012
NO_SUCH_TABLE = ("SELECT * FROM no_such_table", {})  # 42P01: not a refused value


async def failure(engine: AsyncEngine, statement: tuple[str, dict[str, str]]) -> DBAPIError:
    sql, params = statement
    with pytest.raises(DBAPIError) as raised:
        async with engine.connect() as connection:
            await connection.execute(text(sql), params)
    return raised.value


async def driver_failure(engine: AsyncEngine, statement: tuple[str, dict[str, str]]) -> Exception:
    """The same statement on the driver connection, as `ticketing.db.driver` sends the hot ones
    (its wrapper re-raises asyncpg's error unless the connection is gone)."""
    sql, params = statement
    async with engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        with pytest.raises(PostgresError) as raised:
            await driver.fetchval(sql.replace(":v", "$1"), *params.values())
    return raised.value


@pytest.mark.parametrize("statement", [NUL_IN_TEXT, OUT_OF_RANGE, DIVISION_BY_ZERO])
@pytest.mark.parametrize("path", ["sqlalchemy", "driver"])
async def test_a_refused_value_is_final_in_an_activity(
    engine: AsyncEngine, statement: tuple[str, dict[str, str]], path: str
) -> None:
    if path == "driver":
        error = await driver_failure(engine, statement)
    else:
        error = await failure(engine, statement)
        assert not isinstance(error, DataError)  # what the isinstance check alone missed
    assert refused_value(error)
    with pytest.raises(ApplicationError) as raised:
        async with activity_boundary():
            raise error
    assert raised.value.non_retryable and raised.value.type == "InvalidInput"
    assert "database refused a value" in raised.value.message
    assert raised.value.__cause__ is None  # no statement parameters in the failure


async def test_other_database_errors_stay_retryable(engine: AsyncEngine) -> None:
    errors = [await failure(engine, NO_SUCH_TABLE), await driver_failure(engine, NO_SUCH_TABLE)]
    for error in errors:
        assert not refused_value(error)
        with pytest.raises(ApplicationError) as raised:
            async with activity_boundary():
                raise error
        assert not raised.value.non_retryable


async def test_the_api_answers_a_refused_value_422_and_other_errors_503(
    engine: AsyncEngine,
) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    statements = {"nul": NUL_IN_TEXT, "range": OUT_OF_RANGE, "table": NO_SUCH_TABLE}

    @app.get("/{path}/{name}")
    async def run(path: str, name: str) -> None:
        if path == "driver":
            raise await driver_failure(engine, statements[name])
        raise await failure(engine, statements[name])

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for path in ("sqlalchemy", "driver"):
            problem(await client.get(f"/{path}/nul"), 422, "InvalidInput", None)
            problem(await client.get(f"/{path}/range"), 422, "InvalidInput", None)
            problem(await client.get(f"/{path}/table"), 503, "ServiceUnavailable", None)
