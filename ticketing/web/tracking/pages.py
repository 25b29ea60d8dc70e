"""The tracking pages' HTML: the page kit's layout and stylesheet (inline, by hash)."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from ticketing.core.enums import TicketType
from ticketing.tickets.public_lookup import CustomerView
from ticketing.web.pages import BASE_CSS, PageKit

DEFAULT_ORG = "Ticket tracking"
# One small stylesheet inline by its hash: the public pages load nothing else at all.
KIT = PageKit("ticketing.web.tracking", inline_css=BASE_CSS)
SECURITY_HEADERS = KIT.headers


def type_label(value: TicketType) -> str:
    return value.value.replace("_", " ").capitalize()


def page(html: str, status: int = 200) -> HTMLResponse:
    return KIT.response(html, status)


def lookup_form(
    *, csrf: str, org: str | None, tenant: str, message: str | None = None, number: str = ""
) -> str:
    return KIT.render(
        "form.html",
        page_title="Track your ticket",
        org=org or DEFAULT_ORG,
        csrf=csrf,
        tenant=tenant,
        message=message,
        number=number,
    )


def ticket_page(
    view: CustomerView, *, csrf: str, token: str, message: str | None = None, ok: bool = False
) -> str:
    return KIT.render(
        "ticket.html",
        page_title=view.ticket.ticket_number,
        org=view.tenant_name,
        view=view,
        t=view.ticket,
        type_label=type_label(view.ticket.ticket_type),
        csrf=csrf,
        token=token,
        tenant=view.ticket.tenant_id,
        message=message,
        ok=ok,
    )
