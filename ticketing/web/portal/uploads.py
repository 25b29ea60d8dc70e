"""A new ticket's files handed to the attachments domain through a port (reading and serving
them is the page kit's: ticketing.web.pages.uploads)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.tickets.schemas import TicketInfo
from ticketing.web.pages.uploads import MIB, UploadedFile, UploadLimits, read_files

__all__ = ["MIB", "AttachmentPort", "ListedFile", "UploadLimits", "UploadedFile", "read_files"]


@dataclass(frozen=True)
class ListedFile:
    id: uuid.UUID
    filename: str
    content_type: str
    size: int


class AttachmentPort(Protocol):
    """The attachments domain as the portal needs it (stored with SHA-256, listed on the
    ticket, downloaded under the ticket's own scoping)."""

    async def store(
        self,
        session: AsyncSession,
        principal: Principal,
        ticket: TicketInfo,
        files: list[UploadedFile],
    ) -> None:
        """Store the files with the ticket, in the caller's transaction (the create's own)."""
        ...

    async def of_ticket(
        self, sessions: async_sessionmaker[AsyncSession], principal: Principal, ticket: TicketInfo
    ) -> list[ListedFile]:
        """The files the customer may see (none of internal messages)."""
        ...

    async def download(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        ticket_number: str,
        attachment_id: uuid.UUID,
    ) -> UploadedFile | None: ...
