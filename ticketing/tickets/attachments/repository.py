"""All SQL about attachment rows (their bytes are the store's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tickets.attachments.models import Attachment
from ticketing.tickets.attachments.schemas import AttachmentInfo, StoredFile


async def insert_attachment(
    session: AsyncSession,
    *,
    attachment_id: uuid.UUID,
    tenant_id: str,
    ticket_id: uuid.UUID,
    message_id: int | None,
    info: AttachmentInfo,
    storage: str,
    storage_ref: str,
    now: datetime,
) -> None:
    await session.execute(
        insert(Attachment).values(
            id=attachment_id,
            tenant_id=tenant_id,
            ticket_id=ticket_id,
            message_id=message_id,
            filename=info.filename,
            content_type=info.content_type,
            size=info.size,
            sha256=info.sha256,
            storage=storage,
            storage_ref=storage_ref,
            created_at=now,
        )
    )


def _stored(row: Attachment) -> StoredFile:
    return StoredFile(
        info=AttachmentInfo(
            id=row.id,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
        ),
        message_id=row.message_id,
        storage=row.storage,
        storage_ref=row.storage_ref,
    )


async def of_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> list[StoredFile]:
    stmt = (
        select(Attachment)
        .where(Attachment.ticket_id == ticket_id)
        .order_by(Attachment.created_at, Attachment.id)
    )
    return [_stored(row) for row in (await session.execute(stmt)).scalars()]


async def one(
    session: AsyncSession, ticket_id: uuid.UUID, attachment_id: uuid.UUID
) -> StoredFile | None:
    stmt = select(Attachment).where(
        Attachment.ticket_id == ticket_id, Attachment.id == attachment_id
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    return _stored(row) if row is not None else None


async def set_storage_ref(session: AsyncSession, attachment_id: uuid.UUID, ref: str) -> None:
    """Where the store put the file (written after the row, in the same transaction)."""
    await session.execute(
        text("UPDATE attachments SET storage_ref = :ref WHERE id = :id"),
        {"ref": ref, "id": attachment_id},
    )


async def internal_message_ids(session: AsyncSession, ticket_id: uuid.UUID) -> set[int]:
    """The ticket's internal notes: their files are the support side's."""
    rows = await session.execute(
        text("SELECT id FROM ticket_messages WHERE ticket_id = :ticket_id AND is_internal"),
        {"ticket_id": ticket_id},
    )
    return set(rows.scalars())


async def newest_message_id(session: AsyncSession, ticket_id: uuid.UUID) -> int | None:
    """The ticket's newest message (the one the caller's transaction has just added)."""
    rows = await session.execute(
        text("SELECT max(id) FROM ticket_messages WHERE ticket_id = :ticket_id"),
        {"ticket_id": ticket_id},
    )
    return rows.scalar()
