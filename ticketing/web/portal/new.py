"""GET/POST /portal/new: a ticket the signed-in customer opens (channel `web`), with files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.errors import InvalidInput, TicketingError
from ticketing.tenants.portal_signin import PortalIdentity
from ticketing.tickets.creation import HTTP_DOOR
from ticketing.tickets.schemas import TicketInfo
from ticketing.web.deps import ticket_flows
from ticketing.web.pages import new_token, tokens_match
from ticketing.web.pages.uploads import file_parts, read_files, read_multipart, text_fields
from ticketing.web.portal.session import Portal, refused, to_portal
from ticketing.web.portal.views import KIT, problem, render

# The create's fields → the control a problem is shown at.
FIELDS = {"title": "title", "description": "description", "attachments": "attachments"}
NO_STORE = "Files cannot be attached here yet. Send the ticket without them and reply by email."


async def new_page(
    portal: Portal,
    request: Request,
    me: PortalIdentity,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    limits = portal.config.limits
    context: dict[str, Any] = {
        "page_title": "New ticket",
        "errors": errors or {},
        "values": values or {},
        # One key per form shown: sending it twice (a double click, a retry) is one ticket.
        "key": (values or {}).get("key") or new_token(),
        "max_files": limits.files,
        "max_file_mib": limits.file_bytes // (1024 * 1024),
        "max_total_mib": limits.total_bytes // (1024 * 1024),
    }
    org = await portal.tenant_name(request, me.tenant_id)
    return KIT.response(render("new.html", me, org=org, **context), status)


def register(router: APIRouter, portal: Portal) -> None:
    @router.get("/portal/new")
    async def new_form(request: Request) -> Response:
        me = await portal.identity(request)
        if me is None:
            return to_portal(None)
        return await new_page(portal, request, me)

    @router.post("/portal/new")
    async def create(request: Request) -> Response:
        me = await portal.identity(request)
        if me is None:
            return to_portal(None)
        limits = portal.config.limits
        form = await read_multipart(request, limits)
        if form is None:
            # Starlette's answer to too many files or fields, or a part too large.
            return await new_page(
                portal, request, me, status=422, errors={"attachments": limits.too_many}
            )
        try:
            fields = text_fields(form)
            if not tokens_match(me.csrf_token, fields.get("csrf")):
                return refused(me)
            values = {k: fields.get(k, "") for k in ("title", "description", "key")}
            try:
                files = await read_files(file_parts(form), limits)
                port = portal.config.attachments
                if files and port is None:
                    raise InvalidInput("attachments", None, NO_STORE)

                async def attach(session: AsyncSession, ticket: TicketInfo) -> None:
                    # In the create's transaction: a ticket is made with all its files or
                    # not at all, and a resubmitted form (same key) does not add them twice.
                    assert port is not None
                    await port.store(session, me.principal, ticket, files)

                ticket = await ticket_flows(portal.ports(request), me.principal).create(
                    {
                        "tenant_id": me.tenant_id,
                        "customer_id": me.customer_id,
                        "requester_email": me.email or None,
                        "title": values["title"],
                        "description": values["description"],
                        "channel": "web",
                        "idempotency_key": "portal:" + values["key"][:64],
                    },
                    rules=HTTP_DOOR,
                    also=attach if files else None,
                )
            except TicketingError as error:
                field = FIELDS.get(error.field or "", "title")
                return await new_page(
                    portal, request, me, status=422, errors={field: problem(error)}, values=values
                )
        finally:
            await form.close()
        return RedirectResponse(f"/portal/tickets/{ticket.ticket_number}", status_code=303)
