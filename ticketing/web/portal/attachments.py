"""The portal's attachments port on the attachments domain: stored with SHA-256 under the
ticket's tenant, listed and downloaded under the customer's own scoping."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.core.errors import NotFound
from ticketing.tickets.attachments.schemas import NewFile
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.attachments.store import AttachmentStores
from ticketing.tickets.schemas import TicketInfo
from ticketing.web.portal.uploads import ListedFile, UploadedFile


class DomainAttachments:
    def __init__(self, stores: AttachmentStores, max_bytes: int) -> None:
        self.stores = stores
        self.max_bytes = max_bytes

    async def store(
        self,
        session: AsyncSession,
        principal: Principal,
        ticket: TicketInfo,
        files: list[UploadedFile],
    ) -> None:
        new = [NewFile(f.filename, f.content_type, f.data) for f in files]
        await AttachmentService(session, principal, self.stores).attach(
            ticket.ticket_id, ticket.tenant_id, new, max_bytes=self.max_bytes
        )

    async def of_ticket(
        self, sessions: async_sessionmaker[AsyncSession], principal: Principal, ticket: TicketInfo
    ) -> list[ListedFile]:
        async with sessions() as session:
            files = await AttachmentService(session, principal, self.stores).of_ticket(
                ticket.ticket_id
            )
        return [
            ListedFile(f.info.id, f.info.filename, f.info.content_type, f.info.size) for f in files
        ]

    async def download(
        self,
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        ticket_number: str,
        attachment_id: uuid.UUID,
    ) -> UploadedFile | None:
        async with sessions() as session:
            try:
                info, data = await AttachmentService(session, principal, self.stores).download(
                    ticket_number, attachment_id
                )
            except NotFound:
                return None
        return UploadedFile(info.filename, info.content_type, data)
