"""Temporal-native ticketing for ISPs and multi-tenant service platforms.

`ticketing.TicketingService` is the public Python entry point for embedding without Temporal;
it is imported on first use, so importing any `ticketing.*` module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticketing.embedding.service import TicketingService

__all__ = ["TicketingService"]


def __getattr__(name: str) -> object:
    if name == "TicketingService":
        from ticketing.embedding.service import TicketingService

        return TicketingService
    raise AttributeError(f"module 'ticketing' has no attribute {name!r}")
