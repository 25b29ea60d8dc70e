"""Which Temporal client errors a request path answers 503 (retry later) and which stay bugs."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from ticketing.temporal.errors import temporal_unreachable


@pytest.mark.parametrize(
    ("status", "unreachable"),
    [
        (RPCStatusCode.UNAVAILABLE, True),
        (RPCStatusCode.DEADLINE_EXCEEDED, True),
        (RPCStatusCode.RESOURCE_EXHAUSTED, True),
        (RPCStatusCode.INVALID_ARGUMENT, False),
        (RPCStatusCode.NOT_FOUND, False),
        (RPCStatusCode.PERMISSION_DENIED, False),
    ],
)
def test_rpc_errors_by_status(status: RPCStatusCode, unreachable: bool) -> None:
    assert temporal_unreachable(RPCError("boom", status, None)) is unreachable


def test_only_a_failed_connect_among_runtime_errors() -> None:
    assert temporal_unreachable(RuntimeError("Failed client connect: Server connection error"))
    assert not temporal_unreachable(RuntimeError("something else broke"))
    assert not temporal_unreachable(ValueError("Failed client connect"))
