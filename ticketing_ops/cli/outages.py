"""`ticketing outage declare|update|resolve|list|show` and `ticketing customer set`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.runtime.settings import Settings
from ticketing_ops.cli.after_commit import OperatorWatchers
from ticketing_ops.cli.context import database, format_dt, operator, parse_enum, temporal
from ticketing_ops.cli.errors import to_cli_error
from ticketing_ops.cli.output import JSON_OPTION, out, run, user_text, warn

if TYPE_CHECKING:
    from ticketing.outages.flows import OutageFlows
    from ticketing.outages.schemas import OutageRef

outage_app = typer.Typer(
    help="Outages: one parent ticket for every customer behind a network element.",
    no_args_is_help=True,
)
customer_app = typer.Typer(help="A tenant's customers.", no_args_is_help=True)
DECLARE_TAGS = typer.Option(..., "--tag", help="A network tag (repeat for more).")
CUSTOMER_TAGS = typer.Option(
    None, "--tag", help="A network tag (repeat for more); replaces the customer's set."
)


class OperatorRuns:
    """The outage's run told through Temporal; out of reach, the change still stands (the
    reconciler starts the run) and the failure becomes a warning."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warning: str | None = None

    async def changed(self, outage: OutageRef) -> None:
        from ticketing.temporal.outages import TemporalOutageRuns

        try:
            client = await temporal(self.settings)
            await TemporalOutageRuns(client, self.settings.task_queue).changed(outage)
        except Exception as exc:  # noqa: BLE001 - the change is committed; see the class
            self.warning = (
                f"the outage's run was not told ({to_cli_error(exc).message}); "
                "the worker's reconciler starts it"
            )


@asynccontextmanager
async def outage_flows(
    settings: Settings, principal: Principal
) -> AsyncIterator[tuple[OutageFlows, OperatorRuns, OperatorWatchers]]:
    from ticketing.notifications.mailer import Notifier
    from ticketing.notifications.service import DirectDelivery
    from ticketing.outages.flows import OutageFlows

    watchers, runs = OperatorWatchers(settings), OperatorRuns(settings)
    async with database(settings) as sessions:
        yield (
            OutageFlows(
                sessions,
                principal,
                watchers=watchers,
                notices=DirectDelivery(sessions, Notifier.from_settings(settings)),
                runs=runs,
            ),
            runs,
            watchers,
        )


def parse_eta(value: str | None) -> datetime | None:
    """An ISO date and time; without a zone it is UTC."""
    if value is None:
        return None
    try:
        eta = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("eta", value, "is not an ISO date and time") from None
    return eta if eta.tzinfo else eta.replace(tzinfo=UTC)


def canonical_number(number: str) -> str:
    from ticketing.outages.service import outage_number
    from ticketing.tickets.numbering import format_ticket_number

    return format_ticket_number(outage_number(number))


def _with_warning(shown: dict[str, Any], *ports: OperatorRuns | OperatorWatchers) -> dict[str, Any]:
    warnings = [p.warning for p in ports if p.warning]
    if warnings:
        shown["warning"] = "; ".join(warnings)
    return shown


def _warn(r: dict[str, Any], json_out: bool) -> None:
    if r.get("warning"):
        warn(r["warning"], json_out)


@outage_app.command("declare")
def outage_declare(
    tenant: str = typer.Option(..., "--tenant", help="The tenant whose network is out."),
    title: str = typer.Option(..., "--title", help="What customers see as the subject."),
    tags: list[str] = DECLARE_TAGS,
    description: str = typer.Option(None, "--description", help="The first update."),
    eta: str = typer.Option(None, "--eta", help="Expected end (ISO 8601; UTC without zone)."),
    notify: str = typer.Option(None, "--notify", help="affected (default) or linked."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Declare an outage: its run links the unsolved tickets of affected customers and sends
    them the first update (the description)."""
    from ticketing.outages.schemas import NotifyMode

    settings = Settings()

    async def action() -> dict[str, Any]:
        request: dict[str, Any] = {
            "title": title,
            "description": description or "",
            "tags": tags,
            "eta": parse_eta(eta),
        }
        mode = parse_enum(NotifyMode, "notify", notify)
        if mode is not None:
            request["notify"] = mode
        async with outage_flows(settings, operator(tenant)) as (flows, runs, watchers):
            declared = await flows.declare(request, tenant_id=tenant)
        return _with_warning(declared.model_dump(mode="json"), runs, watchers)

    def render(r: dict[str, Any]) -> None:
        out().print(
            Text.assemble(
                "outage ",
                user_text(r["ticket_number"], style="bold"),
                " declared: ",
                user_text(r["title"]),
                f" ({r['affected']} customers affected)",
            )
        )
        _warn(r, json_out)

    run(json_out, action, render)


def _post(number: str, body: str, key: str | None, tenant: str | None, resolve: bool) -> Any:
    from ticketing.outages.schemas import default_update_key

    settings = Settings()

    async def action() -> dict[str, Any]:
        canonical = canonical_number(number)
        async with outage_flows(settings, operator(tenant)) as (flows, runs, watchers):
            if resolve:
                info = await flows.resolve(canonical, body, key=key)
            else:
                chosen = key or default_update_key(canonical, body)
                info = await flows.post_update(canonical, body, key=chosen)
        return _with_warning(info.model_dump(mode="json"), runs, watchers)

    return action


@outage_app.command("update")
def outage_update(
    number: str = typer.Argument(..., help="The outage's ticket number (TKT-…)."),
    body: str = typer.Option(..., "--body", help="The update every customer gets."),
    key: str = typer.Option(
        None, "--key", help="Idempotency key (default: derived from the outage and the text)."
    ),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Send an update to every affected (or linked) customer, one mail each; rerunning the
    same command sends nothing twice."""

    def render(r: dict[str, Any]) -> None:
        out().print(
            Text.assemble(
                "update ", str(r["seq"]), " of ", user_text(r["ticket_number"]), " recorded"
            )
        )
        _warn(r, json_out)

    run(json_out, _post(number, body, key, tenant, resolve=False), render)


@outage_app.command("resolve")
def outage_resolve(
    number: str = typer.Argument(..., help="The outage's ticket number (TKT-…)."),
    body: str = typer.Option(..., "--body", help="The resolution every customer gets."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Resolve the outage and every linked ticket with this message; a rerun does nothing."""

    def render(r: dict[str, Any]) -> None:
        out().print(Text.assemble("outage ", user_text(r["ticket_number"]), " resolved"))
        _warn(r, json_out)

    run(json_out, _post(number, body, None, tenant, resolve=True), render)


@outage_app.command("list")
def outage_list(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant's outages."),
    status: str = typer.Option(None, "--status", help="active or resolved."),
    cursor: str = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    limit: int = typer.Option(50, "--limit", help="1 to 200."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Outages, newest first (the JSON is the API's page)."""
    from ticketing.outages.schemas import OutageStatus
    from ticketing.outages.service import OutageService

    async def action() -> dict[str, Any]:
        chosen = parse_enum(OutageStatus, "status", status)
        async with database(Settings()) as sessions, sessions() as s:
            page = await OutageService(s, operator(tenant)).list(
                status=chosen, cursor=cursor, limit=limit, tenant_id=tenant
            )
        return page.model_dump(mode="json")

    def render(r: dict[str, Any]) -> None:
        console = out()
        if not r["items"]:
            console.print("no outages")
        for o in r["items"]:
            console.print(
                Text.assemble(
                    user_text(o["ticket_number"], style="bold"),
                    f" {o['status']} ",
                    user_text(o["title"]),
                    f" — {o['affected']} affected, {o['linked']} linked, "
                    f"{o['notified']} notified, eta {format_dt(_dt(o['eta']))}",
                )
            )
        if r["next_cursor"]:
            console.print(Text.assemble("more: --cursor ", user_text(r["next_cursor"])))

    run(json_out, action, render)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@outage_app.command("show")
def outage_show(
    number: str = typer.Argument(..., help="The outage's ticket number (TKT-…)."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """One outage with its updates and linked tickets (the JSON is the API's)."""
    from ticketing.outages.service import OutageService

    async def action() -> dict[str, Any]:
        async with database(Settings()) as sessions, sessions() as s:
            detail = await OutageService(s, operator(tenant)).detail(canonical_number(number))
        return detail.model_dump(mode="json")

    def render(r: dict[str, Any]) -> None:
        console = out()
        console.print(
            Text.assemble(
                user_text(r["ticket_number"], style="bold"),
                f" {r['status']} ",
                user_text(r["title"]),
            )
        )
        console.print(
            Text.assemble(
                "tags ",
                user_text(", ".join(r["tags"])),
                f"; {r['affected']} affected, {r['linked']} linked, {r['notified']} notified",
            )
        )
        for u in r["updates"]:
            console.print(Text.assemble(f"  {u['seq']}. {u['kind']}: ", user_text(u["body"])))

    run(json_out, action, render)


@customer_app.command("set")
def customer_set(
    customer_id: str = typer.Argument(..., help="The customer's id in the tenant."),
    tenant: str = typer.Option(..., "--tenant", help="The customer's tenant."),
    tags: list[str] = CUSTOMER_TAGS,
    clear_tags: bool = typer.Option(False, "--clear-tags", help="Remove every tag."),
    email: str = typer.Option(None, "--email", help="Contact address."),
    name: str = typer.Option(None, "--name", help="Display name."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create or update a customer (the JSON is the API's customer record)."""
    from ticketing.notifications.service import QueueOnly
    from ticketing.temporal.schemas import parse
    from ticketing.tenants.directory import customer_record
    from ticketing.tenants.flows import TenantFlows
    from ticketing.tenants.schemas import UpsertCustomerInput

    settings = Settings()

    async def action() -> dict[str, Any]:
        if clear_tags and tags:
            raise InvalidInput("tags", tags, "give --tag or --clear-tags, not both")
        change = parse(
            UpsertCustomerInput,
            {
                "tenant_id": tenant,
                "customer_id": customer_id,
                "email": email,
                "name": name,
                "tags": [] if clear_tags else (tags or None),
            },
        )
        watchers = OperatorWatchers(settings)
        async with database(settings) as sessions:
            flows = TenantFlows(sessions, operator(tenant), watchers=watchers, notices=QueueOnly())
            record = customer_record(await flows.upsert_customer(change))
        return _with_warning(record.model_dump(mode="json"), watchers)

    def render(r: dict[str, Any]) -> None:
        out().print(
            Text.assemble(
                "customer ",
                user_text(r["customer_id"], style="bold"),
                " saved; tags: ",
                user_text(", ".join(r["tags"]) or "none"),
            )
        )
        _warn(r, json_out)

    run(json_out, action, render)
