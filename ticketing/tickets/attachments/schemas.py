"""What a ticket shows of an attachment, and a file on its way in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel


class AttachmentInfo(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class NewFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    """An attachment's row as read back: its info, where it hangs, where its bytes are."""

    info: AttachmentInfo
    message_id: int | None
    storage: str
    storage_ref: str
