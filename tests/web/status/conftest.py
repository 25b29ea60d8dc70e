"""The status page is served by the API's app: the desk's live site (uvicorn, PostgreSQL)."""

from tests.web.desk.conftest import artifacts, desk

__all__ = ["artifacts", "desk"]
