"""What the portal's templates show: the kit, the tenant's name, the labels customers read."""

from __future__ import annotations

from typing import Any

from ticketing.core.errors import InvalidInput, TicketingError
from ticketing.tenants.portal_signin import PortalIdentity
from ticketing.tickets.public_lookup import STATUS_LABELS
from ticketing.web.pages import PageKit

# The app's own stylesheet files, no script at all: `script-src 'self'` with nothing to run.
KIT = PageKit(
    "ticketing.web.portal",
    stylesheets=("/portal/static/base.css", "/portal/static/portal.css"),
)
DEFAULT_ORG = "Customer portal"


def render(template: str, me: PortalIdentity | None, *, org: str | None, **context: Any) -> str:
    return KIT.render(
        template, me=me, org=org or DEFAULT_ORG, status_labels=STATUS_LABELS, **context
    )


def problem(error: TicketingError) -> str:
    """The message shown at the field: the reason, without the field's own name."""
    text = error.reason if isinstance(error, InvalidInput) else error.message
    prefix = f"{error.field}: " if error.field else ""
    text = text[len(prefix) :] if prefix and text.startswith(prefix) else text
    return text[:1].upper() + text[1:]
