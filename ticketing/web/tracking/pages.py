"""The tracking pages' HTML: Jinja2 templates, one stylesheet, and the headers every page has."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from functools import cache

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from ticketing.core.enums import TicketType
from ticketing.tickets.public_lookup import CustomerView
from ticketing.web.headers import page_headers

# Dark text on white (contrast ~16:1), links and the focus ring at >= 4.5:1, a focus ring on
# everything that takes focus: WCAG 2.2 AA.
CSS = """
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;
background:#fff}
header,main,footer{max-width:44rem;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:1px solid #767676}
.org{font-size:1.25rem;font-weight:700;margin:0}.sub{margin:0;color:#4a4a4a}
h1{font-size:1.6rem;line-height:1.25}h2{font-size:1.25rem;margin-top:2rem}
.number{white-space:nowrap;color:#4a4a4a}
a{color:#0b57d0}
a:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible,
main:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
.field{margin:1rem 0}
label{display:block;font-weight:600;margin-bottom:.25rem}
input,textarea{width:100%;font:inherit;padding:.5rem;border:2px solid #595959;border-radius:4px;
color:#1a1a1a;background:#fff}
.hint{margin:.25rem 0 0;color:#4a4a4a;font-size:.9rem}
button{font:inherit;font-weight:600;padding:.6rem 1.2rem;border:0;border-radius:4px;
background:#0b57d0;color:#fff;cursor:pointer}
button:hover{background:#0842a0}
.notice{border-left:4px solid #b3261e;background:#fdecea;padding:.75rem 1rem;margin:1rem 0}
.notice.ok{border-color:#146c2e;background:#e6f4ea}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1.5rem}
.facts dt{font-weight:600}.facts dd{margin:0}
.timeline{list-style:none;padding:0}
.timeline li{border-left:3px solid #767676;padding:.25rem 0 .25rem 1rem;margin:0 0 1rem}
.timeline li.event{border-color:#c4c4c4;color:#4a4a4a}
.meta{margin:0;font-size:.9rem}.body{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
footer{color:#4a4a4a;font-size:.875rem;border-top:1px solid #767676;margin-top:2rem}
""".strip()
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
DEFAULT_ORG = "Ticket tracking"

SECURITY_HEADERS = page_headers(
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def type_label(value: TicketType) -> str:
    return value.value.replace("_", " ").capitalize()


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("ticketing.web.tracking", "templates"),
        # Titles, bodies and names are data: always escaped.
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    return env


def page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def lookup_form(
    *, csrf: str, org: str | None, tenant: str, message: str | None = None, number: str = ""
) -> str:
    return (
        _templates()
        .get_template("form.html")
        .render(
            css=CSS,
            page_title="Track your ticket",
            org=org or DEFAULT_ORG,
            csrf=csrf,
            tenant=tenant,
            message=message,
            number=number,
        )
    )


def ticket_page(
    view: CustomerView, *, csrf: str, token: str, message: str | None = None, ok: bool = False
) -> str:
    return (
        _templates()
        .get_template("ticket.html")
        .render(
            css=CSS,
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
    )
