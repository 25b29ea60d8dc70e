"""`ticketing ticket …` (one ticket) and `ticketing tickets list`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text
from temporalio.client import Client

from ticketing.core.errors import InvalidInput
from ticketing.runtime.settings import Settings
from ticketing.temporal import names
from ticketing.temporal.schemas import Priority, SlaSnapshot, TicketInfo, TicketStatus, TicketType
from ticketing_ops.cli.after_commit import OperatorWatchers, ticket_flows
from ticketing_ops.cli.context import QUERY_TIMEOUT, database, operator, parse_enum, temporal
from ticketing_ops.cli.errors import to_cli_error
from ticketing_ops.cli.output import JSON_OPTION, out, plain_text, run, user_text, warn

if TYPE_CHECKING:
    from ticketing.tickets.flows import TicketFlows

ticket_app = typer.Typer(
    help="One ticket: show it, reply, change its status.", no_args_is_help=True
)
tickets_app = typer.Typer(help="Many tickets.", no_args_is_help=True)

TICKET_FIELDS = (
    ("status", "status"),
    ("priority", "priority"),
    ("type", "ticket_type"),
    ("tenant", "tenant_id"),
    ("customer", "customer_id"),
    ("team", "assigned_team"),
    ("assignee", "assigned_to"),
    ("channel", "channel"),
    ("first response due", "first_response_due"),
    ("resolution due", "sla_due_date"),
    ("breached", "sla_breached"),
    ("escalation level", "escalation_level"),
    ("created", "created_at"),
)


async def query_sla(client: Client, ticket_number: str) -> SlaSnapshot | None:
    from ticketing.temporal.watchers import escalation_workflow_id

    handle = client.get_workflow_handle(escalation_workflow_id(ticket_number))
    return await handle.query(
        names.SLA_STATE_QUERY,
        result_type=SlaSnapshot | None,  # type: ignore[arg-type]
        rpc_timeout=QUERY_TIMEOUT,
    )


@ticket_app.command("show")
def ticket_show(
    ticket: str = typer.Argument(..., help="TKT-… or the ticket's UUID."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """A ticket, its timeline, notices, SLA statistics and the live state from its watcher."""
    from ticketing.readmodels.ticket_detail import ticket_detail

    settings = Settings()

    async def action() -> dict[str, Any]:
        async with database(settings) as sessions, sessions() as s:
            detail = await ticket_detail(s, operator(tenant), ticket)
        info = detail.ticket
        sla: SlaSnapshot | None = None
        sla_error: str | None = None
        try:
            client = await temporal(settings)
            sla = await query_sla(client, info.ticket_number)
            if sla is None:
                sla_error = "the SLA watcher has not read the ticket yet"
        except Exception as exc:  # noqa: BLE001 - the ticket is still worth showing
            sla_error = f"the SLA watcher is not running ({to_cli_error(exc).message})"
        shown = detail.model_dump(mode="json")
        return {
            "ticket": shown["ticket"],
            "messages": shown["messages"],
            "events": shown["events"],
            "sla": sla.model_dump(mode="json") if sla else None,
            "sla_error": sla_error,
            "notifications": shown["notifications"],
            "sla_statistics": shown["sla"],
        }

    run(json_out, action, _render_ticket)


def _statistics_line(stats: dict[str, Any]) -> Text:
    """Business minutes: first response, resolution, hold, and each window met or missed."""

    def minutes(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} min"

    outcomes = [
        f"{w['window']} {'open' if w['met'] is None else 'met' if w['met'] else 'missed'}"
        f" ({w['margin_minutes']:+.0f} min)"
        for w in stats["windows"]
    ]
    return Text(
        f"SLA (business time): first response {minutes(stats['first_response_minutes'])}, "
        f"resolution {minutes(stats['resolution_minutes'])}, "
        f"on hold {minutes(stats['hold_minutes'])}; " + ", ".join(outcomes)
    )


def _render_ticket(r: dict[str, Any]) -> None:
    console = out()
    t = r["ticket"]
    console.print(
        Text.assemble(user_text(t["ticket_number"], style="bold"), " ", user_text(t["title"]))
    )
    fields = Table.grid(padding=(0, 2))
    for label, key in TICKET_FIELDS:
        value = t.get(key)
        fields.add_row(Text(label, style="dim"), user_text("-" if value is None else value))
    console.print(fields)
    if t.get("description"):
        console.print(user_text(t["description"], multiline=True))
    console.print(_timeline(r["messages"], r["events"]))
    console.print(_notices(r["notifications"]))
    console.print(_statistics_line(r["sla_statistics"]))
    sla = r["sla"]
    if sla:
        console.print(
            Text.assemble(
                "SLA: phase ",
                user_text(sla["phase"], style="bold"),
                user_text(
                    f", paused {sla['paused']}, "
                    f"breached {sla['breached'] or 'none'}, level L{sla['escalation_level']}, "
                    f"next {sla['next_kind'] or '-'} at {sla['next_at'] or '-'}"
                ),
            )
        )
    else:
        console.print(Text.assemble("SLA: ", user_text(r["sla_error"], style="yellow")))


def _notices(notices: list[dict[str, Any]]) -> Table:
    table = Table(title="notifications", show_lines=False)
    for column in ("kind", "to", "status", "attempts", "reason"):
        table.add_column(column, overflow="fold")
    for n in notices:
        table.add_row(
            user_text(n["kind"]),
            user_text(n["recipient"] or "-"),
            user_text(n["status"]),
            user_text(str(n["attempts"])),
            user_text(n["reason"] or ""),
        )
    return table


def _timeline(messages: list[dict[str, Any]], events: list[dict[str, Any]]) -> Table:
    timeline = Table(title="timeline", show_lines=False)
    timeline.add_column("at")
    timeline.add_column("what")
    timeline.add_column("who")
    timeline.add_column("details", overflow="fold")
    rows: list[tuple[str, str, str, Text]] = [
        (
            m["created_at"],
            "internal note" if m["is_internal"] else "message",
            f"{m['author_actor']}" + (f" {m['author']}" if m["author"] else ""),
            user_text(m["body"], multiline=True),
        )
        for m in messages
    ]
    rows += [
        (e["created_at"], e["kind"], e["actor"] or "", user_text(event_details(e["data"])))
        for e in events
    ]
    for at, what, who, details in sorted(rows, key=lambda row: row[0]):
        timeline.add_row(
            user_text(at[:19].replace("T", " ")), user_text(what), user_text(who), details
        )
    return timeline


def event_details(data: dict[str, Any]) -> str:
    """An event's data as one terminal-safe line: `key=value, …`, timestamps as HH:MM:SS."""
    parts = []
    for key, value in data.items():
        if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
            try:
                value = datetime.fromisoformat(value).strftime("%H:%M:%S")
            except ValueError:
                pass
        parts.append(f"{key}={value}")
    return plain_text(", ".join(parts))


TicketChange = Callable[["TicketFlows"], Awaitable[TicketInfo]]


async def _mutate(settings: Settings, tenant: str | None, change: TicketChange) -> dict[str, Any]:
    """One flow: the change in one transaction, then its watcher woken and notices sent."""
    watchers = OperatorWatchers(settings)
    async with ticket_flows(settings, operator(tenant), watchers) as flows:
        info = await change(flows)
    return {
        "ticket": info.model_dump(mode="json"),
        "watcher_notified": watchers.warning is None,
        "warning": watchers.warning,
    }


def _mutation(
    json_out: bool, settings: Settings, tenant: str | None, change: TicketChange, verb: str
) -> None:
    def render(r: dict[str, Any]) -> None:
        t = r["ticket"]
        out().print(
            Text.assemble(
                user_text(t["ticket_number"], style="bold"),
                f" {verb}: status ",
                user_text(t["status"]),
            )
        )
        if r["warning"]:
            warn(f"the SLA watcher was not notified: {r['warning']}", json_out)

    run(json_out, lambda: _mutate(settings, tenant, change), render)


@ticket_app.command("reply")
def ticket_reply(
    ticket: str = typer.Argument(..., help="TKT-…"),
    body: str = typer.Option(..., "--body", help="Message text."),
    internal: bool = typer.Option(False, "--internal", help="Internal note (not a response)."),
    actor: str = typer.Option("tenant", help="customer|tenant|partner|platform."),
    author: str = typer.Option(None, help="Who wrote it (name or email)."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a reply (or --internal note); the assigned side's first public reply is the first
    response."""
    _mutation(
        json_out,
        Settings(),
        tenant,
        lambda flows: flows.reply(
            ticket, body=body, author_actor=actor, author=author, is_internal=internal
        ),
        "noted" if internal else "replied",
    )


def _status_verb(name: str, status: TicketStatus, help_text: str) -> None:
    def command(
        ticket: str = typer.Argument(..., help="TKT-…"),
        actor: str = typer.Option(None, help="Who made the change."),
        tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
        json_out: bool = JSON_OPTION,
    ) -> None:
        _mutation(
            json_out,
            Settings(),
            tenant,
            lambda flows: flows.change_status(ticket, status, actor=actor),
            name,
        )

    command.__doc__ = help_text
    ticket_app.command(name)(command)


_status_verb("pending", TicketStatus.PENDING, "Waiting on the customer: the SLA clock pauses.")
_status_verb("resolve", TicketStatus.RESOLVED, "Resolve the ticket: its watcher ends.")
_status_verb("close", TicketStatus.CLOSED, "Close the ticket.")
_status_verb(
    "reopen",
    TicketStatus.OPEN,
    "Reopen (or resume) the ticket: a fresh resolution window and a new watcher.",
)


@ticket_app.command("share")
def ticket_share(
    ticket: str = typer.Argument(..., help="TKT-… or the ticket's UUID."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """A ready message for the customer: number, status, priority, category, title, link."""
    from ticketing.tickets.service import TicketService
    from ticketing.tickets.share import share_text

    settings = Settings()

    async def action() -> dict[str, Any]:
        async with database(settings) as sessions, sessions() as s:
            info = await TicketService(s, operator(tenant)).get_ticket(ticket)
        return share_text(info, settings.public_url).model_dump()

    run(json_out, action, lambda r: out().print(user_text(r["text"], multiline=True)))


@tickets_app.command("list")
def tickets_list(
    tenant: str = typer.Option(None, "--tenant"),
    status: str = typer.Option(None, "--status", help="open|in_progress|pending|resolved|closed."),
    priority: str = typer.Option(None, "--priority", help="low|normal|high|urgent."),
    ticket_type: str = typer.Option(None, "--type", help="Ticket type slug."),
    assignee: str = typer.Option(None, "--assignee"),
    team: str = typer.Option(None, "--team"),
    breached: bool = typer.Option(None, "--breached/--not-breached"),
    search: str = typer.Option(
        None, "--search", help="Number, email start (with @), title words or customer id."
    ),
    limit: int = typer.Option(50, "--limit"),
    cursor: str = typer.Option(None, "--cursor", help="next_cursor of the previous page."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Newest first, filtered, one page at a time."""
    from ticketing.tickets.service import TicketService

    async def action() -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "status": parse_enum(TicketStatus, "status", status),
            "priority": parse_enum(Priority, "priority", priority),
            "ticket_type": parse_enum(TicketType, "ticket_type", ticket_type),
            "assigned_to": assignee,
            "assigned_team": team,
            "breached": breached,
            "search": search,
            "limit": limit,
            "cursor": cursor,
        }
        async with database(Settings()) as sessions, sessions() as s:
            try:
                page = await TicketService(s, operator(tenant)).list_tickets(**kwargs)
            except (ValueError, IndexError) as exc:
                if cursor is None:
                    raise
                raise InvalidInput("cursor", cursor, "is not a cursor from this list") from exc
        return {
            "items": [t.model_dump(mode="json") for t in page.items],
            "next_cursor": page.next_cursor,
        }

    run(json_out, action, _render_list)


def _render_list(r: dict[str, Any]) -> None:
    console = out()
    wide = console.width >= 120
    table = Table(box=box.SIMPLE_HEAD)
    columns = ["number", "status", "prio", "SLA", "type", "title"]
    if wide:
        columns += ["customer", "team", "resolution due"]
    for column in columns:
        table.add_column(
            column, no_wrap=column in ("number", "status", "prio", "SLA"), overflow="fold"
        )
    for t in r["items"]:
        sla = Text(f"L{t['escalation_level']}")
        if t["sla_breached"]:
            sla.append_text(Text.assemble(" ", ("!", "red")))
        row = [
            user_text(t["ticket_number"]),
            user_text(t["status"]),
            user_text(t["priority"]),
            sla,
            user_text(t["ticket_type"]),
            user_text(t["title"]),
        ]
        if wide:
            row += [
                user_text(f"{t['tenant_id']}/{t['customer_id']}"),
                user_text(t["assigned_team"] or "-"),
                user_text((t["sla_due_date"] or "-")[:16].replace("T", " ")),
            ]
        table.add_row(*row)
    console.print(table)
    if r["next_cursor"]:
        console.print(Text.assemble("more: --cursor ", user_text(r["next_cursor"])))
