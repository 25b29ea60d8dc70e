"""GET /desk/tickets/{number}, and its reply and properties forms, through the ticket flows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ticketing.core.enums import Priority, TicketStatus
from ticketing.core.errors import NotFound, TicketingError, TicketNotFound
from ticketing.readmodels.ticket_detail import TicketDetail, ticket_detail
from ticketing.teams.service import TeamService
from ticketing.teams.signin import DeskIdentity
from ticketing.tickets.share import share_text
from ticketing.web.deps import ticket_flows
from ticketing.web.desk.session import Desk, not_found, to_login
from ticketing.web.desk.views import KIT, render, timeline

MAX_MESSAGE_CHARS = 20_000
MESSAGE_BYTES = 256 * 1024
# The field of a domain error → the control it is shown next to.
FIELDS = {
    "body": "body",
    "status": "status",
    "priority": "priority",
    "assigned_to": "assignee",
    "ticket_type": "type",
    # An installation request needs the address the ticket does not have.
    "service_address": "type",
}
DONE = {
    "sent": "Your reply was sent.",
    "noted": "Your internal note was added.",
    "saved": "The changes were saved.",
}


async def _detail(desk: Desk, request: Request, me: DeskIdentity, number: str) -> TicketDetail:
    async with desk.ports(request).sessions() as session:
        return await ticket_detail(session, me.principal, number)


async def ticket_page(
    desk: Desk,
    request: Request,
    me: DeskIdentity,
    detail: TicketDetail,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    t = detail.ticket
    async with desk.ports(request).sessions() as session:
        agents = await TeamService(session, me.principal).list_agents(t.tenant_id)
    done = DONE.get(request.query_params.get("done", ""))
    context: dict[str, Any] = {
        "page_title": t.ticket_number,
        "detail": detail,
        "t": t,
        "timeline": timeline(detail),
        "agents": [a.email for a in agents],
        "share": share_text(t, desk.config.public_url).text,
        # The email branch adds attachments to the read model; shown here once it does.
        "attachments": getattr(detail, "attachments", None) or [],
        "errors": errors or {},
        "values": values or {},
        "done": None if errors else done,
    }
    return KIT.response(render("ticket.html", me, **context), status)


def register(router: APIRouter, desk: Desk) -> None:
    async def opened(request: Request, number: str) -> tuple[DeskIdentity, TicketDetail] | Response:
        me = await desk.identity(request)
        if me is None:
            return to_login()
        try:
            return me, await _detail(desk, request, me, number[:64])
        except (NotFound, TicketingError):
            # A malformed number, a missing ticket and another tenant's: one page.
            return not_found(me)

    @router.get("/desk/tickets/{number}")
    async def show(request: Request, number: str) -> Response:
        found = await opened(request, number)
        if isinstance(found, Response):
            return found
        me, detail = found
        return await ticket_page(desk, request, me, detail)

    @router.post("/desk/tickets/{number}/reply")
    async def reply(request: Request, number: str) -> Response:
        found = await opened(request, number)
        if isinstance(found, Response):
            return found
        me, detail = found
        form = await desk.posted(request, me, limit=MESSAGE_BYTES)
        if isinstance(form, Response):
            return form
        body, internal = form.get("body", ""), form.get("internal") == "1"
        try:
            if len(body) > MAX_MESSAGE_CHARS:
                raise TicketingError(f"body: at most {MAX_MESSAGE_CHARS} characters", field="body")
            await ticket_flows(desk.ports(request), me.principal).reply(
                detail.ticket.ticket_id, body=body, is_internal=internal
            )
        except TicketNotFound:
            return not_found(me)
        except TicketingError as error:
            message = "Write a message (at most 20,000 characters)."
            if error.field != "body":
                message = error.message
            return await ticket_page(
                desk,
                request,
                me,
                detail,
                status=422,
                errors={"body": message},
                values={"body": body, "internal": "1" if internal else ""},
            )
        done = "noted" if internal else "sent"
        return RedirectResponse(
            f"/desk/tickets/{detail.ticket.ticket_number}?done={done}", status_code=303
        )

    @router.post("/desk/tickets/{number}/properties")
    async def properties(request: Request, number: str) -> Response:
        found = await opened(request, number)
        if isinstance(found, Response):
            return found
        me, detail = found
        form = await desk.posted(request, me)
        if isinstance(form, Response):
            return form
        t = detail.ticket
        flows = ticket_flows(desk.ports(request), me.principal)
        try:
            status = form.get("status", t.status.value)
            if status != t.status.value:
                await flows.change_status(t.ticket_id, _choice(TicketStatus, status, "status"))
            priority = form.get("priority", t.priority.value)
            if priority != t.priority.value:
                await flows.change_priority(t.ticket_id, _choice(Priority, priority, "priority"))
            assignee = form.get("assignee", t.assigned_to or "") or None
            if assignee != t.assigned_to:
                await flows.assign(t.ticket_id, assigned_to=assignee, assigned_team=t.assigned_team)
            ticket_type = form.get("type", t.ticket_type.value)
            if ticket_type != t.ticket_type.value:
                await flows.change_type(t.ticket_id, ticket_type)
        except TicketNotFound:
            return not_found(me)
        except TicketingError as error:
            field = FIELDS.get(error.field or "", "")
            # What was already saved stays saved (each change is its own step, as in the API).
            fresh = await _detail(desk, request, me, t.ticket_number)
            return await ticket_page(
                desk, request, me, fresh, status=422, errors={field or "form": error.message}
            )
        return RedirectResponse(f"/desk/tickets/{t.ticket_number}?done=saved", status_code=303)


def _choice(enum: Any, value: str, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise TicketingError(f"{field}: choose one from the list", field=field) from None
