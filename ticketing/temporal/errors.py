"""Which Temporal client errors mean "the service cannot be reached now" (retry later) rather
than a mistake of ours."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

# The client's own retries are spent: the frontend is down, overloaded or too slow to answer.
_UNREACHABLE = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
# A lazily connected client that cannot connect on its first call raises this (sdk-python's
# bridge), not an RPCError.
_CONNECT_FAILED = "Failed client connect"

# What a request path may see from Temporal; `temporal_unreachable` sorts them.
TEMPORAL_ERRORS: tuple[type[Exception], ...] = (RPCError, RuntimeError)


def temporal_unreachable(error: BaseException) -> bool:
    if isinstance(error, RPCError):
        return error.status in _UNREACHABLE
    return isinstance(error, RuntimeError) and str(error).startswith(_CONNECT_FAILED)
