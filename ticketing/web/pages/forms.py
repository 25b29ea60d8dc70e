"""Reading a page's form post: urlencoded only, bounded in bytes and in fields."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request


async def read_form(request: Request, limit: int, *, max_fields: int = 8) -> dict[str, str] | None:
    """An urlencoded body's first value per field; None when it cannot be one (too big,
    another content type, too many fields)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    try:
        fields = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields
        )
    except ValueError:
        return None
    return {key: values[0] for key, values in fields.items()}
