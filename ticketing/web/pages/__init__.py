"""The web page kit every server-rendered channel (tracking, desk, portal) builds on: form
reading, CSRF tokens, cookies, security headers and the page layout."""

from ticketing.web.pages.cookies import clear_cookie, set_cookie
from ticketing.web.pages.csrf import new_token, tokens_match
from ticketing.web.pages.forms import read_form
from ticketing.web.pages.layout import BASE_CSS, PageKit, content_security_policy, when
from ticketing.web.pages.static import static_router

__all__ = [
    "BASE_CSS",
    "PageKit",
    "clear_cookie",
    "content_security_policy",
    "new_token",
    "read_form",
    "set_cookie",
    "static_router",
    "tokens_match",
    "when",
]
