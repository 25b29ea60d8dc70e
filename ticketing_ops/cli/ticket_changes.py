"""`ticketing ticket type|merge|assign|priority`: property changes, one flow each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import TicketInfo
from ticketing_ops.cli.output import JSON_OPTION
from ticketing_ops.cli.tickets import _mutation, ticket_app

if TYPE_CHECKING:
    from ticketing.tickets.flows import TicketFlows


@ticket_app.command("type")
def ticket_type(
    ticket: str = typer.Argument(..., help="TKT-…"),
    new_type: str = typer.Argument(..., metavar="TYPE", help="Ticket type slug."),
    actor: str = typer.Option(None, help="Who made the change."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Change the ticket's type: its SLA due dates follow the new type's targets."""
    _mutation(
        json_out,
        Settings(),
        tenant,
        # The service names `ticket_type` when the slug is not a ticket type.
        lambda flows: flows.change_type(ticket, new_type.strip().lower(), actor=actor),
        "retyped",
    )


@ticket_app.command("merge")
def ticket_merge(
    ticket: str = typer.Argument(..., help="The duplicate, TKT-…"),
    into: str = typer.Option(..., "--into", help="The ticket it continues as, TKT-…"),
    actor: str = typer.Option(None, help="Who merged it."),
    tenant: str = typer.Option(None, "--tenant", help="Only if both belong to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Merge a duplicate: its messages move, it closes with a pointer, its customer hears once.
    Running it again changes nothing."""

    async def merge(flows: TicketFlows) -> TicketInfo:
        return (await flows.merge(ticket, into, actor=actor)).ticket

    _mutation(json_out, Settings(), tenant, merge, f"merged into {into}")


@ticket_app.command("assign")
def ticket_assign(
    ticket: str = typer.Argument(..., help="TKT-…"),
    to: str = typer.Option(None, "--to", help="The agent (name or email); omit to unassign."),
    team: str = typer.Option(None, "--team", help="Also move it to this team."),
    actor: str = typer.Option(None, help="Who made the change."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Assign the ticket to an agent (and team); without --to it is unassigned."""
    _mutation(
        json_out,
        Settings(),
        tenant,
        lambda flows: flows.assign(ticket, assigned_to=to, assigned_team=team, actor=actor),
        f"assigned to {to}" if to else "unassigned",
    )


@ticket_app.command("priority")
def ticket_priority(
    ticket: str = typer.Argument(..., help="TKT-…"),
    priority: str = typer.Argument(..., metavar="PRIORITY", help="low|normal|high|urgent."),
    actor: str = typer.Option(None, help="Who made the change."),
    tenant: str = typer.Option(None, "--tenant", help="Only if it belongs to this tenant."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Change the priority: its SLA due dates follow the new priority's targets."""
    _mutation(
        json_out,
        Settings(),
        tenant,
        # The service names `priority` when the value is not one.
        lambda flows: flows.change_priority(ticket, priority.strip().lower(), actor=actor),
        f"priority {priority.strip().lower()}",
    )
