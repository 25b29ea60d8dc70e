"""A new ticket's files: read from the multipart form within limits, named safely, and handed
to the attachments domain through a port."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import UploadFile

from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.tickets.attachments.service import safe_content_type, safe_filename
from ticketing.tickets.schemas import TicketInfo

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
MIB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    files: int = 10
    file_bytes: int = 10 * MIB
    total_bytes: int = 25 * MIB

    @property
    def body_bytes(self) -> int:
        """What the form's whole body may be: the files and the text fields' room."""
        return self.total_bytes + MIB


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


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
        sessions: async_sessionmaker[AsyncSession],
        principal: Principal,
        ticket: TicketInfo,
        files: list[UploadedFile],
    ) -> None: ...

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


async def read_files(parts: list[UploadFile], limits: UploadLimits) -> list[UploadedFile]:
    """The chosen files (an empty file input sends one nameless, empty part: no file), or
    InvalidInput naming `attachments` when they are too many or too large."""
    chosen = [part for part in parts if part.filename]
    if len(chosen) > limits.files:
        raise InvalidInput("attachments", len(chosen), f"at most {limits.files} files")
    files, total = [], 0
    for part in chosen:
        data = await part.read(limits.file_bytes + 1)
        if len(data) > limits.file_bytes:
            raise InvalidInput(
                "attachments",
                part.filename,
                f"{safe_filename(part.filename or '')} is over {limits.file_bytes // MIB} MiB",
            )
        total += len(data)
        if total > limits.total_bytes:
            raise InvalidInput(
                "attachments", total, f"together at most {limits.total_bytes // MIB} MiB"
            )
        files.append(
            UploadedFile(
                safe_filename(part.filename or ""),
                safe_content_type(part.content_type or ""),
                data,
            )
        )
    return files
