"""The agent desk: the server-rendered pages support agents work in (/desk)."""

from ticketing.web.desk.config import DeskConfig
from ticketing.web.desk.routes import desk_router

__all__ = ["DeskConfig", "desk_router"]
