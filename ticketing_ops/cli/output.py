"""What a verb prints: JSON, terminal-safe user text, and the one-line error contract."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from ticketing.runtime.settings import Settings
from ticketing_ops.cli.errors import ERROR_EXIT, CliError, to_cli_error

T = TypeVar("T")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object on stdout, nothing else.")
# Shown in place of a line break inside a one-line value (a title, a table cell, an error).
LINE_BREAK_MARK = "⏎"

_ESCAPE_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c)
    | \x1b[ -/]*[0-~]
    """,
    re.VERBOSE | re.DOTALL,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def plain_text(value: object, *, multiline: bool = False) -> str:
    """User or database text made safe for a terminal: escape sequences (CSI, OSC, DCS, …) and
    C0/C1 control characters removed; line breaks kept when `multiline`, else shown as ⏎."""
    text = _ESCAPE_SEQUENCE.sub("", str(value))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = text.replace("\n", LINE_BREAK_MARK).replace("\t", " ")
    # Lone surrogates (undecodable argv bytes) would make a strict UTF-8 stdout raise.
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def user_text(value: object, *, style: str = "", multiline: bool = False) -> Text:
    """Data (titles, names, bodies, errors) as a rich Text: printed literally, never as markup."""
    return Text(plain_text(value, multiline=multiline), style=style)


def out() -> Console:
    # Created per call so CliRunner's redirected stdout is honoured. Markup and emoji codes are
    # off so that no string reaching the console is interpreted: styling is built with Text.
    return Console(file=sys.stdout, markup=False, emoji=False, highlight=False)


def fail(error: CliError, json_out: bool, *, exit_now: bool = False) -> NoReturn:
    if json_out:
        typer.echo(
            json.dumps(
                {"error": {"type": error.type, "field": error.field, "message": error.message}}
            )
        )
    else:
        typer.echo(f"error: {plain_text(error.message)}", err=True)
    if exit_now:  # outside a command, where typer.Exit is no longer turned into an exit code
        sys.exit(ERROR_EXIT)
    raise typer.Exit(ERROR_EXIT)


def warn(message: str, json_out: bool) -> None:
    if not json_out:
        typer.echo(f"warning: {plain_text(message)}", err=True)


def run(
    json_out: bool,
    action: Callable[[], Coroutine[Any, Any, T]],
    render: Callable[[T], None],
    to_json: Callable[[T], Any] | None = None,
) -> None:
    """Run `action` on a fresh event loop; print its result as JSON or through `render`."""
    quiet_logging()
    try:
        result = asyncio.run(action())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - every error becomes one line
        fail(to_cli_error(exc), json_out)
    if json_out:
        payload = to_json(result) if to_json else result
        typer.echo(dumps(payload))
    else:
        render(result)


def dumps(payload: object) -> str:
    return json.dumps(payload, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def quiet_logging() -> None:
    """Domain logs go to stderr at WARNING so stdout stays for results (and JSON)."""
    from ticketing.runtime.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, os.environ.get("TICKETING_CLI_LOG_LEVEL", "WARNING"))


def loud_logging(settings: Settings) -> None:
    from ticketing.runtime.logging import configure_logging
    from worker import add_temporal_context

    configure_logging(settings.log_format, settings.log_level, extra=[add_temporal_context])


class OneLineErrors(TyperGroup):
    """Usage errors (bad option values, missing or unknown options) follow the same one-line
    contract as every other error instead of click's multi-line panel."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        given = args[0] if args else kwargs.get("args")
        argv = list(given) if given is not None else sys.argv[1:]
        try:
            code = super().main(*args, **kwargs)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: show its help
                exc.show()  # type: ignore[attr-defined]
                sys.exit(ERROR_EXIT)
            param = getattr(exc, "param", None)
            field = param.name if param is not None and param.name else None
            message = str(getattr(exc, "format_message", exc.__str__)()).strip()
            message = " ".join(message.split())
            fail(
                CliError(
                    f"{field}: {message}" if field else message, type="UsageError", field=field
                ),
                "--json" in argv,
                exit_now=True,
            )
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
