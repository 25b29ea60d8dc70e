"""Attachments as a Principal may see them: stored with a ticket or one of its messages,
listed and downloaded under the ticket's own scoping (another scope's ticket is missing)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, require_principal
from ticketing.core.errors import InvalidInput, NotFound
from ticketing.db.rls import bind_scope
from ticketing.sla.service import utcnow
from ticketing.tickets.attachments import repository as repo
from ticketing.tickets.attachments.schemas import AttachmentInfo, NewFile, StoredFile
from ticketing.tickets.attachments.store import AttachmentStores, PostgresStore
from ticketing.tickets.service import TicketService

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


class AttachmentNotFound(NotFound):
    def __init__(self, attachment_id: object) -> None:
        super().__init__(
            f"attachment: no attachment {str(attachment_id)[:80]!r}",
            field="attachment",
            value=attachment_id,
        )


def safe_filename(name: str) -> str:
    """A name fit for a download: no path, no control or reserved characters, ≤ 255 chars."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:255] or "attachment"


def safe_content_type(value: str) -> str:
    value = value.strip().lower()
    return value if _TYPE.match(value) else "application/octet-stream"


class AttachmentService:
    def __init__(
        self, session: AsyncSession, principal: Principal, stores: AttachmentStores | None = None
    ) -> None:
        self.session = session
        self.principal = require_principal(principal, "AttachmentService")
        # Where new files go and old ones are read; listing needs none.
        self.stores = stores or AttachmentStores(PostgresStore())
        bind_scope(session, self.principal)

    async def attach(
        self,
        ticket_id: uuid.UUID,
        tenant_id: str,
        files: list[NewFile],
        *,
        message_id: int | None = None,
        max_bytes: int,
        now: datetime | None = None,
    ) -> list[AttachmentInfo]:
        """Store files with the ticket (or one of its messages) in the caller's transaction."""
        now = now or utcnow()
        stored = []
        for position, file in enumerate(files):
            if len(file.data) > max_bytes:
                raise InvalidInput("attachments", file.filename, f"is over {max_bytes} bytes")
            attachment_id = uuid.uuid4()
            digest = hashlib.sha256(file.data).hexdigest()
            info = AttachmentInfo(
                id=attachment_id,
                filename=safe_filename(file.filename),
                content_type=safe_content_type(file.content_type),
                size=len(file.data),
                sha256=digest,
            )
            await repo.insert_attachment(
                self.session,
                attachment_id=attachment_id,
                tenant_id=tenant_id,
                ticket_id=ticket_id,
                message_id=message_id,
                info=info,
                storage=self.stores.write.kind,
                storage_ref=f"pending:{attachment_id}",
                # A microsecond apart: listed in the order they came.
                now=now + timedelta(microseconds=position),
            )
            ref = await self.stores.write.put(
                self.session,
                attachment_id=attachment_id,
                tenant_id=tenant_id,
                sha256=digest,
                data=file.data,
            )
            await repo.set_storage_ref(self.session, attachment_id, ref)
            stored.append(info)
        return stored

    async def attach_to_new_message(
        self, ticket_id: uuid.UUID, tenant_id: str, files: list[NewFile], *, max_bytes: int
    ) -> list[AttachmentInfo]:
        """Files with the message the caller's transaction has just added: adding it took the
        ticket's row lock, held to the commit, so the ticket's newest message is that one."""
        message_id = await repo.newest_message_id(self.session, ticket_id)
        return await self.attach(
            ticket_id, tenant_id, files, message_id=message_id, max_bytes=max_bytes
        )

    async def of_ticket(self, ticket_id: uuid.UUID) -> list[StoredFile]:
        """The ticket's attachments this principal may see (a customer: none of internal
        messages). `ticket_id` comes from a scoped read."""
        files = await repo.of_ticket(self.session, ticket_id)
        if not self.principal.is_customer or not files:
            return files
        internal = await repo.internal_message_ids(self.session, ticket_id)
        return [f for f in files if f.message_id not in internal]

    async def download(
        self, ticket: uuid.UUID | str, attachment_id: uuid.UUID | str
    ) -> tuple[AttachmentInfo, bytes]:
        """One attachment of a ticket this principal may see, with its bytes."""
        info = await TicketService(self.session, self.principal).get_ticket(ticket)
        try:
            wanted = uuid.UUID(str(attachment_id))
        except ValueError:
            raise AttachmentNotFound(attachment_id) from None
        visible = {f.info.id: f for f in await self.of_ticket(info.ticket_id)}
        found = visible.get(wanted)
        if found is None:
            raise AttachmentNotFound(attachment_id)
        store = self.stores.of_kind(found.storage)
        data = await store.get(self.session, found.storage_ref) if store is not None else None
        if data is None:
            raise AttachmentNotFound(attachment_id)
        return found.info, data
