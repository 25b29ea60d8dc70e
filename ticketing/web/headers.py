"""Security headers, in one place: every response (API and pages) carries the base set; a page
adds its Content-Security-Policy."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# API answers hold customers' emails and raw titles: never cached, never sniffed into HTML,
# never framed, and no URL (tracking links carry a credential) handed to another site.
BASE_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def page_headers(content_security_policy: str) -> dict[str, str]:
    """A server-rendered page's headers: the base set and its own policy."""
    return {**BASE_HEADERS, "Content-Security-Policy": content_security_policy}


class SecurityHeaders:
    """Adds the base set to every HTTP response that does not set the header itself (errors
    from the middleware below it included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(name.lower().encode(), value.encode()) for name, value in BASE_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.raw if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
