"""Where attachment bytes live, behind one port: PostgreSQL (the default) or a directory."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.tickets.attachments.models import AttachmentBlob


class AttachmentStore(Protocol):
    kind: str

    async def put(
        self,
        session: AsyncSession,
        *,
        attachment_id: uuid.UUID,
        tenant_id: str,
        sha256: str,
        data: bytes,
    ) -> str:
        """Keep the bytes (inside the caller's transaction where the store can); the ref."""

    async def get(self, session: AsyncSession, ref: str) -> bytes | None:
        """The bytes under `ref`, or None if they are gone."""


class PostgresStore:
    """Bytes in `attachment_blobs`, in the same transaction as their row: nothing to set up."""

    kind = "postgres"

    async def put(
        self,
        session: AsyncSession,
        *,
        attachment_id: uuid.UUID,
        tenant_id: str,
        sha256: str,
        data: bytes,
    ) -> str:
        await session.execute(
            insert(AttachmentBlob).values(
                attachment_id=attachment_id, tenant_id=tenant_id, data=data
            )
        )
        return str(attachment_id)

    async def get(self, session: AsyncSession, ref: str) -> bytes | None:
        stmt = select(AttachmentBlob.data).where(AttachmentBlob.attachment_id == uuid.UUID(ref))
        return (await session.execute(stmt)).scalar_one_or_none()


class FilesystemStore:
    """Content-addressed files under a directory (`<tenant>/<sha256>`): written before the
    commit, so a rolled-back transaction leaves at most an unreferenced file, never a row
    without its bytes."""

    kind = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(
        self,
        session: AsyncSession,
        *,
        attachment_id: uuid.UUID,
        tenant_id: str,
        sha256: str,
        data: bytes,
    ) -> str:
        ref = f"{tenant_id}/{sha256}"
        await asyncio.to_thread(self._write, self.root / ref, data)
        return ref

    async def get(self, session: AsyncSession, ref: str) -> bytes | None:
        path = (self.root / ref).resolve()
        if self.root.resolve() not in path.parents:
            return None
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)


@dataclass(frozen=True)
class AttachmentStores:
    """The store new files go to, and the way back to files any store kept (a deployment may
    have switched stores since a file was written)."""

    write: AttachmentStore
    directory: Path | None = None

    @classmethod
    def configured(cls, kind: str, directory: Path | None) -> AttachmentStores:
        """`kind` "postgres" (default) or "filesystem" (under `directory`)."""
        if kind == "filesystem":
            if directory is None:
                raise ValueError("attachment_dir: the filesystem store needs a directory")
            return cls(FilesystemStore(directory), directory)
        return cls(PostgresStore(), directory)

    def of_kind(self, kind: str) -> AttachmentStore | None:
        if kind == self.write.kind:
            return self.write
        if kind == "postgres":
            return PostgresStore()
        if kind == "filesystem" and self.directory is not None:
            return FilesystemStore(self.directory)
        return None
