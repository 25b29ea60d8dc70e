"""`ticketing ticket type|merge`: the support manager's changes to a ticket, each one flow."""

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
