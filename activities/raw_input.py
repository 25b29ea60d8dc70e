"""Decoding a contract's raw payload ourselves, so no input can fail inside the SDK's decoder."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel
from temporalio.common import RawValue

from ticketing.core.errors import InvalidInput
from ticketing.core.fields import parse

M = TypeVar("M", bound=BaseModel)

# A payload the SDK cannot decode (pydantic's JSON parser stops at 200 levels of nesting) fails
# a workflow's task, retried for ever, or an activity with a retryable "Failed decoding
# arguments". Declaring the argument as RawValue hands us the payload instead; the worst input
# then becomes an InvalidInput on the first attempt.


def decode(model: type[M], value: object, field: str) -> M:
    """The model from a raw payload (or an already decoded value), else InvalidInput."""
    if isinstance(value, RawValue):
        value = _json(value, field)
    if value is None:
        raise InvalidInput(field, None, "is required")
    return parse(model, value)


def _json(raw: RawValue, field: str) -> object:
    encoding = raw.payload.metadata.get("encoding", b"")
    if encoding == b"binary/null":
        return None
    if encoding != b"json/plain":
        shown = encoding.decode("utf-8", "replace")[:50]
        raise InvalidInput(field, shown, "must be a JSON payload")
    try:
        return json.loads(raw.payload.data)
    except RecursionError:
        raise InvalidInput(field, None, "is nested too deeply to decode") from None
    except ValueError as error:
        raise InvalidInput(field, None, f"is not valid JSON ({str(error)[:100]})") from None
