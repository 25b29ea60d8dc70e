"""POST /api/v1/tickets/{number}/erase: redact a ticket's personal data, keep the ticket."""

from __future__ import annotations

from pydantic import Field

from ticketing.core.fields import Contract
from ticketing.tickets.erasure import ErasureResult, TicketErasure
from ticketing.web.deps import Caller, Ports
from ticketing.web.routing import api_router
from ticketing.web.tickets import TicketNumber

router = api_router("/api/v1/tickets", "tickets")


class EraseRequest(Contract):
    customer: bool = Field(
        default=False, description="Also erase the customer's email and name (every ticket)."
    )


@router.post(
    "/{number}/erase",
    summary="Erase personal data (tenant admins, platform); repeatable, recorded as `erased`",
)
async def erase_ticket(
    number: TicketNumber, caller: Caller, ports: Ports, body: EraseRequest | None = None
) -> ErasureResult:
    async with ports.sessions() as session, session.begin():
        return await TicketErasure(session, caller).erase(
            number, customer=body is not None and body.customer
        )
