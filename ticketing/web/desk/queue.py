"""GET /desk (the queue) and GET /desk/live (its rows and counts, for the page's script)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from ticketing.core.enums import Priority, TicketStatus
from ticketing.core.errors import TicketingError
from ticketing.teams.service import TeamService
from ticketing.teams.signin import DeskIdentity
from ticketing.tenants.service import TenantService
from ticketing.tickets.service import TicketService
from ticketing.web.desk.session import Desk, to_login
from ticketing.web.desk.views import COUNTED, KIT, UNSOLVED, render

PAGE_SIZE = 50
# The cursors of the pages before this one (for "Previous"); FIRST stands for page one.
FIRST = "~"
MAX_TRAIL = 40
STATUS_CHOICES = ("", *(s.value for s in TicketStatus), "any")
# The "Outage" filter: any ticket, those linked to an outage, those not linked.
OUTAGE_CHOICES = {"": None, "linked": True, "none": False}


@dataclass
class QueueFilters:
    status: str = ""
    priority: str = ""
    assignee: str = ""
    q: str = ""
    outage: str = ""
    tenant: str = ""
    cursor: str = ""
    trail: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request, me: DeskIdentity) -> QueueFilters:
        get = request.query_params.get
        found = cls(
            status=get("status", "")[:16],
            priority=get("priority", "")[:16],
            assignee=get("assignee", "")[:200],
            q=get("q", "").strip()[:200],
            outage=get("outage", "")[:16],
            tenant=get("tenant", "")[:64] if me.tenant_id is None else "",
            cursor=get("cursor", "")[:64],
            trail=[c for c in get("trail", "").split(".") if c][-MAX_TRAIL:],
        )
        if found.status not in STATUS_CHOICES:
            found.errors["status"] = "Choose a status from the list."
            found.status = ""
        if found.priority and found.priority not in {p.value for p in Priority}:
            found.errors["priority"] = "Choose a priority from the list."
            found.priority = ""
        if found.outage not in OUTAGE_CHOICES:
            found.errors["outage"] = "Choose an outage filter from the list."
            found.outage = ""
        return found

    def query(self, **changes: Any) -> str:
        """This view's query string, with `changes` (empty values left out)."""
        values = {
            "tenant": self.tenant,
            "status": self.status,
            "priority": self.priority,
            "assignee": self.assignee,
            "q": self.q,
            "outage": self.outage,
            "cursor": self.cursor,
            "trail": ".".join(self.trail),
        } | changes
        return urlencode({k: v for k, v in values.items() if v})


async def queue_view(desk: Desk, request: Request, me: DeskIdentity) -> dict[str, Any]:
    """Everything the queue shows, from the same list the API serves."""
    f = QueueFilters.of(request, me)
    if f.status == "any" or (f.q and not f.status):
        status, statuses = None, None
    elif f.status:
        status, statuses = TicketStatus(f.status), None
    else:
        status, statuses = None, UNSOLVED
    tenant = f.tenant or None
    async with desk.ports(request).sessions() as session:
        tickets = TicketService(session, me.principal)
        try:
            page = await tickets.list_tickets(
                status=status,
                statuses=statuses,
                priority=Priority(f.priority) if f.priority else None,
                assigned_to=f.assignee or None,
                search=f.q or None,
                cursor=f.cursor or None,
                tenant_id=tenant,
                outage=OUTAGE_CHOICES[f.outage],
                limit=PAGE_SIZE,
            )
        except TicketingError as error:
            f.errors[error.field or "q"] = error.message
            page = await tickets.list_tickets(statuses=UNSOLVED, tenant_id=tenant, limit=PAGE_SIZE)
            f.cursor, f.trail = "", []
        counts = await tickets.status_counts(tenant)
        agent_tenant = me.tenant_id or tenant
        agents = (
            [a.email for a in await TeamService(session, me.principal).list_agents(agent_tenant)]
            if agent_tenant
            else []
        )
        tenants = (
            await TenantService(session, me.principal).list_tenants()
            if me.tenant_id is None
            else []
        )
    here = f.cursor or FIRST
    next_url = (
        "/desk?" + f.query(cursor=page.next_cursor, trail=".".join([*f.trail, here]))
        if page.next_cursor
        else None
    )
    previous_url = None
    if f.trail:
        before = f.trail[-1]
        previous_url = "/desk?" + f.query(
            cursor="" if before == FIRST else before, trail=".".join(f.trail[:-1])
        )
    return {
        "filters": f,
        "tickets": page.items,
        "counts": [(s, counts.get(s, 0)) for s in COUNTED],
        "agents": agents,
        "tenants": tenants,
        "next_url": next_url,
        "previous_url": previous_url,
        # Only page one follows new tickets: a later page stays where the agent paged to.
        "live_url": None if f.cursor else "/desk/live?" + f.query(cursor="", trail=""),
        "live_every_ms": int(desk.config.live_every * 1000),
        "show_tenant": me.tenant_id is None,
    }


def register(router: APIRouter, desk: Desk) -> None:
    @router.get("/desk")
    async def queue(request: Request) -> Response:
        me = await desk.identity(request)
        if me is None:
            return to_login()
        view = await queue_view(desk, request, me)
        status = 422 if view["filters"].errors else 200
        return KIT.response(render("queue.html", me, page_title="Tickets", **view), status)

    @router.get("/desk/live")
    async def live(request: Request) -> Response:
        me = await desk.identity(request)
        if me is None:
            # The script sends the agent to sign in again.
            return KIT.response("", 401)
        view = await queue_view(desk, request, me)
        return KIT.response(render("live.html", me, **view))
