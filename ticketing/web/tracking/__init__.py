"""The public ticket tracking pages: lookup by number and email, signed links, customer replies."""

from ticketing.auth.lookup_limits import Limit, TrackingLimits
from ticketing.web.tracking.app import create_tracking_app
from ticketing.web.tracking.config import TrackingConfig, TrackingPorts
from ticketing.web.tracking.routes import tracking_router

__all__ = [
    "Limit",
    "TrackingConfig",
    "TrackingLimits",
    "TrackingPorts",
    "create_tracking_app",
    "tracking_router",
]
