"""Verbs that run things: the dev stack, the demo, the worker, migrations."""

from __future__ import annotations

import asyncio
import os

import typer
from rich.text import Text

from ticketing.db.engine import safe_url
from ticketing.runtime.settings import Settings
from ticketing_ops.cli.errors import to_cli_error
from ticketing_ops.cli.output import (
    JSON_OPTION,
    dumps,
    fail,
    loud_logging,
    out,
    run,
    user_text,
)


def dev(
    port: int = typer.Option(7233, help="Temporal frontend gRPC port."),
    ui_port: int = typer.Option(8233, help="Temporal Web UI port."),
    headless: bool = typer.Option(False, "--headless", help="No Web UI."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Embedded PostgreSQL + Temporal dev server + worker + HTTP API, until Ctrl-C."""
    from ticketing.web.serve import serving
    from ticketing_ops.cli.mail import mail_serving
    from ticketing_ops.devstack import dev_stack
    from worker import run_worker

    settings = Settings()
    loud_logging(settings)

    async def main() -> None:
        async with (
            dev_stack(settings, temporal_port=port, ui_port=ui_port, headless=headless) as stack,
            serving(
                settings,
                stack.client,
                stack.database_url,
                host=settings.api_host,
                port=settings.api_port,
            ) as api_server,
            mail_serving(settings, stack.client, stack.database_url) as mail_address,
        ):
            info = {
                "temporal_address": stack.server.target_host
                if stack.server
                else os.environ.get("TEMPORAL_ADDRESS"),
                "ui_url": stack.ui_url,
                "api_url": f"http://{settings.api_host}:{api_server.config.port}",
                "mail_listen": f"{mail_address[0]}:{mail_address[1]}",
                "database_url": safe_url(stack.database_url),
                "task_queue": settings.task_queue,
                "home": str(settings.home.resolve()),
            }
            if json_out:
                typer.echo(dumps(info))
            else:
                console = out()
                console.print(
                    Text.assemble(("ticketing dev stack is up", "bold green"), " (Ctrl-C to stop)")
                )
                for label, value in (
                    ("Temporal:  ", info["temporal_address"]),
                    ("Web UI:    ", info["ui_url"] or "(headless)"),
                    ("HTTP API:  ", info["api_url"]),
                    ("Mail SMTP: ", info["mail_listen"]),
                    ("PostgreSQL:", info["database_url"]),
                    ("Task queue:", settings.task_queue),
                ):
                    console.print(Text.assemble(f"  {label} ", user_text(value)))
                if port != 7233 and stack.server:
                    console.print(
                        Text.assemble(
                            "  In another shell: export TEMPORAL_ADDRESS=",
                            user_text(info["temporal_address"]),
                        )
                    )
            await run_worker(
                settings, client=stack.client, database_url=stack.database_url, migrate=False
            )

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)


def api(
    host: str = typer.Option(None, help="Address to listen on (TICKETING_API_HOST)."),
    port: int = typer.Option(None, help="Port (TICKETING_API_PORT, default 8000)."),
    workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes."),
    json_out: bool = JSON_OPTION,
) -> None:
    """The HTTP API alone, against the configured database and Temporal, until Ctrl-C."""
    from ticketing.web.serve import run_api

    settings = Settings()
    loud_logging(settings)
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    if json_out:
        typer.echo(dumps({"api_url": f"http://{host}:{port}", "workers": workers}))
    try:
        run_api(settings, host=host, port=port, workers=workers)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)


def demo(
    headless: bool = typer.Option(True, "--headless/--ui", help="Start the Web UI too."),
    port: int = typer.Option(0, help="Temporal port (0 = a free one)."),
    ui_port: int = typer.Option(0, help="Web UI port (0 = a free one)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """The whole story on the embedded stack: onboarding, installation, breach, escalation."""
    from ticketing_ops.demo import run_demo

    settings = Settings()
    try:
        result = asyncio.run(
            run_demo(
                settings,
                port=port or None,
                ui_port=ui_port or None,
                headless=headless,
                quiet=json_out,
            )
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)
    if json_out:
        typer.echo(dumps(result))


def worker(json_out: bool = JSON_OPTION) -> None:
    """Run the worker (TICKETING_DATABASE_URL, TEMPORAL_ADDRESS) until SIGINT/SIGTERM."""
    from worker import run_worker

    settings = Settings()
    loud_logging(settings)
    if json_out:
        typer.echo(dumps({"task_queue": settings.task_queue, "status": "starting"}))
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(to_cli_error(exc), json_out)


def migrate(json_out: bool = JSON_OPTION) -> None:
    """Bring the database schema up to date."""
    from ticketing.db.engine import migrate_async, resolve_migrate_url

    async def action() -> dict[str, str]:
        # As the tables' owner (TICKETING_MIGRATE_DATABASE_URL), never as the app's role.
        url = await asyncio.to_thread(resolve_migrate_url, Settings())
        await migrate_async(url)
        return {"database_url": safe_url(url), "revision": "head"}

    run(
        json_out,
        action,
        lambda r: out().print(Text.assemble("migrated ", user_text(r["database_url"]), " to head")),
    )
