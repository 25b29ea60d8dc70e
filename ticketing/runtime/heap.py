"""Start-up heap handling shared by the long-running processes (worker, API)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything imported and built so far out of the garbage collector's sight.

    Full collections walk every tracked object, including the hundreds of thousands that
    SQLAlchemy, pydantic, FastAPI and the SDK left at import. In the worker each such walk
    pauses every workflow and activity of the process (228 ms at worst in the timer
    benchmark); in the API it is CPU taken from every request (bench.api: about 5 % less
    server CPU per HTTP create at concurrency 32).
    """
    gc.collect()
    gc.freeze()
