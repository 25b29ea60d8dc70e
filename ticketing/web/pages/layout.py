"""The page layout: one base template, one stylesheet, Jinja2 with autoescape for the data
customers wrote, and the Content-Security-Policy every page sends."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from ticketing.web.headers import page_headers

# Dark text on white (contrast ~16:1), links and the focus ring at >= 4.5:1, a focus ring on
# everything that takes focus: WCAG 2.2 AA.
BASE_CSS = files("ticketing.web.pages").joinpath("static/base.css").read_text().strip()


def style_hash(css: str) -> str:
    return base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


def content_security_policy(
    *, inline_styles: Sequence[str] = (), self_files: bool = False, connect: bool = False
) -> str:
    """No inline script, ever. Styles either inline by hash (`inline_styles`) or as the app's
    own files (`self_files`, with scripts as the app's own files too); `connect`: scripts may
    fetch from the page's own origin (live updates)."""
    styles = " ".join(f"'sha256-{style_hash(css)}'" for css in inline_styles)
    parts = ["default-src 'none'"]
    if self_files:
        parts += [f"style-src 'self' {styles}".strip(), "script-src 'self'"]
    else:
        parts.append(f"style-src {styles}")
    if connect:
        parts.append("connect-src 'self'")
    parts += ["form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]
    return "; ".join(parts)


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class PageKit:
    """A channel's templates (its package's `templates/`, over the kit's `kit/page.html`) and
    the headers its pages carry."""

    def __init__(
        self,
        package: str,
        *,
        inline_css: str | None = None,
        stylesheets: Sequence[str] = (),
        scripts: Sequence[str] = (),
        connect: bool = False,
    ) -> None:
        self.env = Environment(
            loader=ChoiceLoader(
                [PackageLoader(package, "templates"), PackageLoader("ticketing.web.pages")]
            ),
            # Titles, bodies and names are data: always escaped.
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = when
        self.layout = {
            "inline_css": inline_css,
            "stylesheets": tuple(stylesheets),
            "scripts": tuple(scripts),
        }
        policy = content_security_policy(
            inline_styles=(inline_css,) if inline_css else (),
            self_files=bool(stylesheets or scripts),
            connect=connect,
        )
        self.headers = page_headers(policy)

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**self.layout, **context)

    def response(
        self, html: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> HTMLResponse:
        return HTMLResponse(html, status_code=status, headers={**self.headers, **(headers or {})})
