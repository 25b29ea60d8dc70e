"""Cookies of the pages: always HttpOnly and SameSite=Lax, Secure when the public URL is https,
and scoped to the channel's path."""

from __future__ import annotations

from starlette.responses import Response


def set_cookie(
    response: Response,
    name: str,
    value: str,
    *,
    path: str,
    secure: bool,
    max_age: int | None = None,
) -> None:
    """`max_age` None: a browser-session cookie (gone when the browser closes)."""
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="lax", secure=secure
    )


def clear_cookie(response: Response, name: str, *, path: str, secure: bool) -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=secure)
