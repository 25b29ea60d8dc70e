"""Files on a page's form and back: read from a multipart post within limits and named
safely, and served as a download that is never rendered as the page's own origin."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ticketing.core.errors import InvalidInput
from ticketing.tickets.attachments.service import safe_content_type, safe_filename

MIB = 1024 * 1024
# A text field of a multipart form (a message of 20,000 characters is at most 80 KiB).
TEXT_PART_BYTES = 256 * 1024
# Shown in the browser; everything else is downloaded, never rendered as a page.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"})


@dataclass(frozen=True)
class UploadLimits:
    files: int = 10
    file_bytes: int = 10 * MIB
    total_bytes: int = 25 * MIB

    @property
    def body_bytes(self) -> int:
        """What the form's whole body may be: the files and the text fields' room."""
        return self.total_bytes + MIB

    @property
    def too_many(self) -> str:
        return f"At most {self.files} files, each up to {self.file_bytes // MIB} MiB."


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


async def read_multipart(
    request: Request, limits: UploadLimits, *, max_fields: int = 8
) -> FormData | None:
    """The multipart form, or None when Starlette refuses it (too many files or fields, a
    text part too large). The caller closes it."""
    try:
        return await request.form(
            max_files=limits.files + 1, max_fields=max_fields, max_part_size=TEXT_PART_BYTES
        )
    except HTTPException:
        return None


def file_parts(form: FormData, name: str = "attachments") -> list[UploadFile]:
    return [v for v in form.getlist(name) if isinstance(v, UploadFile)]


def text_fields(form: FormData) -> dict[str, str]:
    """Each text field's last value (files left out)."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


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


def download_response(file: UploadedFile) -> Response:
    """The file as sent: a few harmless types inline, the rest as a download; never sniffed,
    sandboxed, not cached. The name is RFC 5987 UTF-8 (no quoting to break out of)."""
    disposition = "inline" if file.content_type in INLINE_TYPES else "attachment"
    name = quote(file.filename, safe="")
    return Response(
        file.data,
        media_type=file.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{name}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )
