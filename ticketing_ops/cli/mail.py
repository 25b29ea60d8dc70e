"""`ticketing mailbox add|list` and `ticketing mail receive|list|release|serve`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from ticketing.runtime.loop import run_server
from ticketing.runtime.settings import Settings
from ticketing_ops.cli.after_commit import OperatorWatchers
from ticketing_ops.cli.context import OPERATOR, database, operator, parse_enum
from ticketing_ops.cli.errors import first_line, to_cli_error
from ticketing_ops.cli.output import (
    JSON_OPTION,
    dumps,
    loud_logging,
    out,
    plain_text,
    quiet_logging,
    run,
)

if TYPE_CHECKING:
    from temporalio.client import Client

    from ticketing.mail.flows import MailIntake

mailbox_app = typer.Typer(help="Inbound mailboxes of tenants.", no_args_is_help=True)
mail_app = typer.Typer(help="Received mail: intake, review, release.", no_args_is_help=True)

# sysexits(3): what an MTA's pipe transport understands.
EX_OK = 0
EX_NOUSER = 67
EX_TEMPFAIL = 75
# Read past the limit only to count: the MTA must see its whole message taken.
_CHUNK = 1 << 20
DOMAIN_OPTION = typer.Option([], "--domain", help="A domain whose senders may write.")


@mailbox_app.command("add")
def mailbox_add(
    address: str = typer.Argument(..., help="The inbound address, e.g. support@acme.test."),
    tenant: str = typer.Option(..., "--tenant", help="The tenant the address belongs to."),
    senders: str = typer.Option(
        "customers", "--senders", help="Who may write in: customers, domains or anyone."
    ),
    domain: list[str] = DOMAIN_OPTION,
    require_auth: bool = typer.Option(
        False, "--require-auth", help="Only mail with dmarc=pass or aligned dkim=pass."
    ),
    imap: str = typer.Option(None, "--imap", help="imaps://USER@HOST[:PORT]/FOLDER to fetch."),
    imap_password_stdin: bool = typer.Option(
        False, "--imap-password-stdin", help="Read the IMAP password from standard input."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Register an inbound address for a tenant (idempotent)."""
    from ticketing.auth.signed_links import secret_key
    from ticketing.core.errors import InvalidInput
    from ticketing.mail.mailboxes import MailboxService, PasswordBox, parse_imap_url
    from ticketing.mail.models import SenderPolicy

    settings = Settings()
    password = ""
    if imap_password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\r\n")

    async def action() -> dict[str, Any]:
        policy = parse_enum(SenderPolicy, "senders", senders)
        assert policy is not None
        if imap_password_stdin and imap is None:
            raise InvalidInput("imap", None, "is required with --imap-password-stdin")
        account = parse_imap_url(imap, password) if imap is not None else None
        boxes = PasswordBox(secret_key(settings)) if account is not None else None
        async with database(settings) as sessions, sessions() as s, s.begin():
            info = await MailboxService(s, OPERATOR).add(
                address,
                tenant_id=tenant,
                senders=policy,
                domains=domain,
                require_auth=require_auth,
                imap=account,
                passwords=boxes,
            )
        return info.model_dump(mode="json")

    run(
        json_out,
        action,
        lambda r: out().print(
            Text.assemble("mailbox ", plain_text(r["address"]), " saved for ", r["tenant_id"])
        ),
    )


@mailbox_app.command("list")
def mailbox_list(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant's mailboxes."),
    json_out: bool = JSON_OPTION,
) -> None:
    """The inbound mailboxes and their sender policies."""
    from ticketing.mail.mailboxes import MailboxService

    async def action() -> list[dict[str, Any]]:
        async with database(Settings()) as sessions, sessions() as s:
            found = await MailboxService(s, operator(tenant)).list(tenant)
        return [m.model_dump(mode="json") for m in found]

    def render(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            line = f"{r['address']}  {r['tenant_id']}  {r['senders']}"
            if r["imap"]:
                line += f"  {r['imap']}"
            out().print(Text(plain_text(line)))

    run(json_out, action, render)


@asynccontextmanager
async def mail_intake(settings: Settings) -> AsyncIterator[MailIntake]:
    """The intake as the operator's machine runs it: notices delivered directly, a watcher
    Temporal could not start left to the reconciler."""
    from ticketing.mail.flows import MailIntake
    from ticketing.notifications.mailer import Notifier
    from ticketing.notifications.service import DirectDelivery
    from ticketing.smtp.config import intake_config

    async with database(settings) as sessions:
        yield MailIntake(
            sessions,
            watchers=OperatorWatchers(settings),
            notices=DirectDelivery(sessions, Notifier.from_settings(settings)),
            config=intake_config(settings),
        )


def _read_message(limit: int) -> tuple[bytes, int]:
    """Up to `limit` + 1 bytes of stdin and the whole size (the rest is read and dropped)."""
    stream = typer.get_binary_stream("stdin")
    kept = bytearray()
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if len(kept) <= limit:
            kept += chunk[: limit + 1 - len(kept)]
    return bytes(kept), size


@mail_app.command("receive")
def mail_receive(
    recipient: str = typer.Option(None, "--recipient", help="The mailbox it was sent to."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Take one RFC 5322 message on stdin (an MTA's pipe). Exit 0 once its outcome is
    committed, 67 when no mailbox matches, 75 when the database cannot be reached."""
    from ticketing.mail.errors import NoMailbox
    from ticketing.mail.flows import IntakeResult

    quiet_logging()
    settings = Settings()
    raw, size = _read_message(settings.mail_max_bytes)
    recipients = (recipient.strip().lower(),) if recipient else ()

    async def action() -> IntakeResult:
        async with mail_intake(settings) as intake:
            return await intake.receive(raw, recipients=recipients, size=size)

    try:
        result = asyncio.run(action())
    except NoMailbox as error:
        _failed(error.message, "NoMailbox", error.field, json_out)
        raise typer.Exit(EX_NOUSER) from None
    except KeyboardInterrupt:
        raise typer.Exit(EX_TEMPFAIL) from None
    except Exception as error:  # noqa: BLE001 - stored or not, the MTA must try again later
        cli_error = to_cli_error(error)
        message = cli_error.message
        if isinstance(error, OSError):  # refused or unreachable: the database, at this point
            message = f"database: {message}"
        _failed(message, cli_error.type, cli_error.field, json_out)
        raise typer.Exit(EX_TEMPFAIL) from None
    if json_out:
        typer.echo(dumps(result.public()))
    else:
        line = result.outcome.value
        if result.ticket_number:
            line += f" {result.ticket_number}"
        if result.reason:
            line += f": {result.reason}"
        out().print(Text(plain_text(line)))


def _failed(message: str, kind: str, field: str | None, json_out: bool) -> None:
    if json_out:
        typer.echo(dumps({"error": {"type": kind, "field": field, "message": message}}))
    else:
        typer.echo(f"error: {plain_text(first_line(message))}", err=True)


@mail_app.command("list")
def mail_list(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant's mail."),
    outcome: str = typer.Option(None, "--outcome", help="Only mail with this outcome."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Received mail, newest first, with its outcome and reason."""
    from ticketing.mail.models import MailOutcome
    from ticketing.mail.review import MailReview

    async def action() -> list[dict[str, Any]]:
        wanted = parse_enum(MailOutcome, "outcome", outcome)
        async with database(Settings()) as sessions, sessions() as s:
            rows = await MailReview(s, operator(tenant)).list(outcome=wanted, limit=limit)
        return [r.model_dump(mode="json") for r in rows]

    def render(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            line = (
                f"{r['id']}  {r['received_at'][:19]}  {r['outcome'] or '-'}  "
                f"{r['ticket_number'] or '-'}  {r['sender'] or '-'}  {r['subject'] or ''}"
            )
            if r["reason"]:
                line += f"  ({r['reason']})"
            out().print(Text(plain_text(line)))

    run(json_out, action, render)


@mail_app.command("release")
def mail_release(
    mail_id: int = typer.Argument(..., help="The id `mail list` shows."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Let a held mail through the remaining rules (threading, then create or append)."""
    settings = Settings()

    async def action() -> dict[str, Any]:
        async with mail_intake(settings) as intake:
            result = await intake.release(OPERATOR, mail_id)
        return {"id": mail_id, **result.public()}

    def render(r: dict[str, Any]) -> None:
        out().print(Text(plain_text(f"{r['outcome']} {r['ticket_number'] or ''}".strip())))

    run(json_out, action, render)


@mail_app.command("bounced")
def mail_bounced(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant's addresses."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Addresses a permanent bounce flagged: notices to them fail at once until they write in
    again or `mail unflag` clears them."""
    from ticketing.mail.review import MailReview

    async def action() -> list[dict[str, Any]]:
        async with database(Settings()) as sessions, sessions() as s:
            rows = await MailReview(s, operator(tenant)).bounced(tenant_id=tenant, limit=limit)
        return [r.model_dump(mode="json") for r in rows]

    def render(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            line = f"{r['tenant_id']}  {r['address']}  {r['bounced_at'][:19]}  {r['reason']}"
            out().print(Text(plain_text(line)))

    run(json_out, action, render)


@mail_app.command("unflag")
def mail_unflag(
    address: str = typer.Argument(..., help="The address `mail bounced` shows."),
    tenant: str = typer.Option(..., "--tenant", help="The tenant it is flagged for."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Write to a bounced address again (its owner says it works)."""
    from ticketing.mail.review import MailReview

    async def action() -> dict[str, Any]:
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            await MailReview(s, operator(tenant)).unflag(tenant, address)
        return {"address": address.strip().lower(), "tenant_id": tenant, "flagged": False}

    def render(r: dict[str, Any]) -> None:
        out().print(Text(plain_text(f"{r['address']} unflagged")))

    run(json_out, action, render)


@asynccontextmanager
async def mail_serving(
    settings: Settings, client: Client | None = None, database_url: str | None = None
) -> AsyncIterator[tuple[str, int]]:
    """The SMTP intake on TICKETING_MAIL_LISTEN, with the API's ports (Temporal watchers, the
    dispatcher's doorbell), until the block exits; yields the address it listens on."""
    from ticketing.db.engine import make_engine, make_sessionmaker, resolve_database_url
    from ticketing.mail.flows import MailIntake
    from ticketing.runtime.observability import MailMetrics
    from ticketing.smtp.config import intake_config, listen_address
    from ticketing.smtp.server import smtp_intake
    from ticketing.web.serve import open_ports

    host, port = listen_address(settings)
    metrics = MailMetrics()
    if settings.mail_metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(
            settings.mail_metrics_port, addr=settings.metrics_host, registry=metrics.registry
        )
    if database_url is None:
        database_url = await asyncio.to_thread(resolve_database_url, settings)
    # The mailbox lookups (every tenant's: system scope) on a pool of their own, so that the
    # intake's pool keeps its tenant's scope instead of switching twice per mail.
    lookups = make_engine(database_url, settings.model_copy(update={"db_pool_size": 2}))
    try:
        async with open_ports(settings, client=client, database_url=database_url) as ports:
            intake = MailIntake(
                ports.sessions,
                watchers=ports.watchers,
                notices=ports.notices,
                config=intake_config(settings),
                on_outcome=metrics.count,
                lookups=make_sessionmaker(lookups),
            )
            async with smtp_intake(
                intake, host=host, port=port, max_bytes=settings.mail_max_bytes
            ) as server:
                bound = server.sockets[0].getsockname()
                yield str(bound[0]), int(bound[1])
    finally:
        await lookups.dispose()


@mail_app.command("serve")
def mail_serve() -> None:
    """Receive mail over SMTP on TICKETING_MAIL_LISTEN (default 127.0.0.1:2525) until Ctrl-C:
    550 for an unknown mailbox, 552 over TICKETING_MAIL_MAX_BYTES, 451 while storage is
    down, 250 once the outcome is committed."""
    settings = Settings()
    loud_logging(settings)

    async def main() -> None:
        async with mail_serving(settings) as (host, port):
            out().print(Text(f"mail intake listening on {host}:{port} (Ctrl-C to stop)"))
            await asyncio.Event().wait()

    try:
        # On uvloop, as the API's uvicorn runs: the intake is a server on the hot path.
        run_server(main())
    except KeyboardInterrupt:
        pass
    except Exception as error:  # noqa: BLE001 - one line, like every verb
        cli_error = to_cli_error(error)
        _failed(cli_error.message, cli_error.type, cli_error.field, False)
        raise typer.Exit(2) from None
