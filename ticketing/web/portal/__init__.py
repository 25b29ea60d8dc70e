"""The customer portal: customers sign in by email link, open tickets and follow them (/portal)."""

from ticketing.web.portal.config import PortalConfig
from ticketing.web.portal.routes import portal_router

__all__ = ["PortalConfig", "portal_router"]
