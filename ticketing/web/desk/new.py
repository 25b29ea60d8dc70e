"""GET/POST /desk/new: a ticket an agent opens for a customer (channel `web`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.core.enums import Priority, TicketType
from ticketing.core.errors import InvalidInput, TicketingError
from ticketing.teams.signin import DeskIdentity
from ticketing.tenants.service import TenantService
from ticketing.tickets.creation import HTTP_DOOR
from ticketing.web.deps import ticket_flows
from ticketing.web.desk.session import Desk, to_login
from ticketing.web.desk.views import KIT, render
from ticketing.web.pages import new_token

FIELDS = {
    "customer_id": "customer_email",
    "requester_email": "customer_email",
    "ticket_type": "type",
    "tenant_id": "tenant",
}
DESCRIPTION_BYTES = 256 * 1024


async def new_page(
    desk: Desk,
    request: Request,
    me: DeskIdentity,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    tenants: list[tuple[str, str]] = []
    if me.tenant_id is None:
        async with desk.ports(request).sessions() as session:
            tenants = await TenantService(session, me.principal).list_tenants()
    context: dict[str, Any] = {
        "page_title": "New ticket",
        "tenants": tenants,
        "errors": errors or {},
        "values": {"priority": "normal", "type": "general_inquiry"} | (values or {}),
        # One key per form shown: sending it twice (a double click, a retry) is one ticket.
        "key": (values or {}).get("key") or new_token(),
        "priorities": list(Priority),
        "types": list(TicketType),
    }
    return KIT.response(render("new.html", me, **context), status)


def register(router: APIRouter, desk: Desk) -> None:
    @router.get("/desk/new")
    async def new_form(request: Request) -> Response:
        me = await desk.identity(request)
        if me is None:
            return to_login()
        return await new_page(desk, request, me)

    @router.post("/desk/new")
    async def create(request: Request) -> Response:
        me = await desk.identity(request)
        if me is None:
            return to_login()
        form = await desk.posted(request, me, limit=DESCRIPTION_BYTES)
        if isinstance(form, Response):
            return form
        email = form.get("customer_email", "").strip()
        tenant = me.tenant_id or form.get("tenant", "")
        try:
            if not tenant:
                raise InvalidInput("tenant_id", None, "choose a tenant")
            async with desk.ports(request).sessions() as session:
                customer = await TenantService(session, me.principal).customer_by_email(
                    tenant, email
                )
            if customer is None:
                raise InvalidInput("customer_email", email, "no customer has this address")
            ticket = await ticket_flows(desk.ports(request), me.principal).create(
                {
                    "tenant_id": tenant,
                    "customer_id": customer,
                    "requester_email": email,
                    "title": form.get("title", ""),
                    "description": form.get("description", ""),
                    "priority": form.get("priority", "normal"),
                    "ticket_type": form.get("type", "general_inquiry"),
                    "channel": "web",
                    "idempotency_key": "desk:" + form.get("key", "")[:64],
                },
                rules=HTTP_DOOR,
            )
        except TicketingError as error:
            field = FIELDS.get(error.field or "", error.field or "title")
            return await new_page(
                desk, request, me, status=422, errors={field: error.message}, values=form
            )
        return RedirectResponse(f"/desk/tickets/{ticket.ticket_number}", status_code=303)
