"""The public status page: a tenant's active outages, for anyone (GET /status?tenant=ID)."""

from ticketing.web.status.routes import status_router

__all__ = ["status_router"]
