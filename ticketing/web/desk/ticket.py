"""GET /desk/tickets/{number}, its reply (with files) and properties forms through the ticket
flows, and its attachments' downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from ticketing.core.enums import Priority, TicketStatus
from ticketing.core.errors import InvalidInput, NotFound, TicketingError, TicketNotFound
from ticketing.readmodels.ticket_detail import TicketDetail, ticket_detail
from ticketing.teams.service import TeamService
from ticketing.teams.signin import DeskIdentity
from ticketing.tickets.attachments.schemas import NewFile
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.flows import Also
from ticketing.tickets.schemas import TicketInfo
from ticketing.tickets.share import share_text
from ticketing.web.deps import ticket_flows
from ticketing.web.desk.outage import MAX_LINKED_SHOWN, LinkedOutage, outage_on_page
from ticketing.web.desk.session import Desk, not_found, refused, to_login
from ticketing.web.desk.views import KIT, render, timeline
from ticketing.web.pages import tokens_match
from ticketing.web.pages.uploads import (
    UploadedFile,
    download_response,
    file_parts,
    read_files,
    read_multipart,
    text_fields,
)

MAX_MESSAGE_CHARS = 20_000
MESSAGE_BYTES = 256 * 1024
# The reply's path: its body may carry files (the app's body limit lets it be larger).
REPLY_PATTERN = r"/desk/tickets/[^/]+/reply"
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
        outage = await outage_on_page(session, me.principal, t)
    done = DONE.get(request.query_params.get("done", ""))
    context: dict[str, Any] = {
        "page_title": t.ticket_number,
        "detail": detail,
        "t": t,
        "timeline": timeline(detail),
        "agents": [a.email for a in agents],
        "share": share_text(t, desk.config.public_url).text,
        "attachments": detail.attachments,
        "max_files": desk.config.limits.files,
        "max_file_mib": desk.config.limits.file_bytes // (1024 * 1024),
        "max_total_mib": desk.config.limits.total_bytes // (1024 * 1024),
        "linked_outage": outage if isinstance(outage, LinkedOutage) else None,
        "outage": None if isinstance(outage, LinkedOutage) else outage,
        "max_linked_shown": MAX_LINKED_SHOWN,
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
        posted = await _reply_form(desk, request, me)
        if posted is None:
            return await ticket_page(
                desk,
                request,
                me,
                detail,
                status=422,
                errors={"attachments": desk.config.limits.too_many},
            )
        if isinstance(posted, Response):
            return posted
        form, parts = posted
        body, internal = form.get("body", ""), form.get("internal") == "1"
        try:
            if len(body) > MAX_MESSAGE_CHARS:
                raise TicketingError(f"body: at most {MAX_MESSAGE_CHARS} characters", field="body")
            files = await read_files(parts, desk.config.limits) if parts else []
            await ticket_flows(desk.ports(request), me.principal).reply(
                detail.ticket.ticket_id,
                body=body,
                is_internal=internal,
                also=_attach(desk, me, files) if files else None,
            )
        except TicketNotFound:
            return not_found(me)
        except TicketingError as error:
            field = "attachments" if error.field == "attachments" else "body"
            message = "Write a message (at most 20,000 characters)."
            if field == "attachments" and isinstance(error, InvalidInput):
                message = error.reason[:1].upper() + error.reason[1:] + "."
            elif error.field != "body":
                message = error.message
            return await ticket_page(
                desk,
                request,
                me,
                detail,
                status=422,
                errors={field: message},
                values={"body": body, "internal": "1" if internal else ""},
            )
        finally:
            for part in parts:
                await part.close()
        done = "noted" if internal else "sent"
        return RedirectResponse(
            f"/desk/tickets/{detail.ticket.ticket_number}?done={done}", status_code=303
        )

    @router.get("/desk/tickets/{number}/attachments/{attachment_id}")
    async def download(request: Request, number: str, attachment_id: str) -> Response:
        me = await desk.identity(request)
        if me is None:
            return to_login()
        try:
            async with desk.ports(request).sessions() as session:
                service = AttachmentService(session, me.principal, desk.config.stores)
                info, data = await service.download(number[:64], attachment_id[:64])
        except (NotFound, TicketingError):
            # Another tenant's ticket or file, a malformed id, a missing one: one page.
            return not_found(me)
        return download_response(UploadedFile(info.filename, info.content_type, data))

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


async def _reply_form(
    desk: Desk, request: Request, me: DeskIdentity
) -> tuple[dict[str, str], list[UploadFile]] | Response | None:
    """The reply's fields and file parts, if the form carries the session's CSRF token: a
    multipart post (the page's form, with its file input) or an urlencoded one (no files).
    None: a multipart post too large in files or fields to read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        form = await desk.posted(request, me, limit=MESSAGE_BYTES)
        return form if isinstance(form, Response) else (form, [])
    multipart = await read_multipart(request, desk.config.limits, max_fields=16)
    if multipart is None:
        # Starlette refused it (too many files or fields, a text part too large): nothing sent.
        return None
    form = text_fields(multipart)
    if not tokens_match(me.csrf_token, form.get("csrf")):
        await multipart.close()
        return refused(me)
    # The parts stay open until the reply is done with them (closed by the caller).
    return form, file_parts(multipart)


def _attach(desk: Desk, me: DeskIdentity, files: list[UploadedFile]) -> Also:
    """The files, with the reply's new message, in the reply's own transaction."""

    async def also(session: AsyncSession, ticket: TicketInfo) -> None:
        await AttachmentService(session, me.principal, desk.config.stores).attach_to_new_message(
            ticket.ticket_id,
            ticket.tenant_id,
            [NewFile(f.filename, f.content_type, f.data) for f in files],
            max_bytes=desk.config.limits.file_bytes,
        )

    return also


def _choice(enum: Any, value: str, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise TicketingError(f"{field}: choose one from the list", field=field) from None
