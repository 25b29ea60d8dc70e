"""Field types every contract shares: validated text, ids, emails, and typed parse errors."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from ticketing.core.enums import Priority
from ticketing.core.errors import InvalidCustomerId, InvalidInput

MAX_TITLE = 200
MAX_DESCRIPTION = 65_536
MAX_SHORT_TEXT = 500
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail mid-transaction.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _email(value: str) -> str:
    # Lower-casing can lengthen a string ("İ" → "i̇"): check what will be stored.
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


def is_identifier(value: str) -> bool:
    """Whether `value` could be a tenant's, partner's or team's id."""
    return _IDENTIFIER.fullmatch(value) is not None  # match() lets "acme\n" through


def _identifier(value: str) -> str:
    if not is_identifier(value):
        raise ValueError("must be 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


def normalize_customer_id(value: Any) -> str:
    """Canonical text of a customer id: an integer's digits or a UUID's lower-case form."""
    if isinstance(value, bool):
        raise ValueError("must be an integer or a UUID")
    if isinstance(value, int):
        if not 0 <= value < 10**30:
            raise ValueError("must be between 0 and 10**30")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 30:
            return str(int(text))
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
    raise ValueError("must be an integer, a numeric string or a UUID")


MAX_METADATA_BYTES = 16_384
# Deeper JSON is no one's real metadata, and every later reader (pydantic's JSON parser stops at
# 200 levels, json.dumps at the recursion limit) would fail on it.
MAX_METADATA_DEPTH = 32


def _depth(value: object) -> int:
    """Nesting depth of JSON-like data, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_METADATA_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    """JSON PostgreSQL can store: no NaN/Infinity, no NUL, bounded size and depth."""
    if _depth(value) > MAX_METADATA_DEPTH:
        raise ValueError(f"must be nested at most {MAX_METADATA_DEPTH} levels deep")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError("must be JSON without NaN or Infinity") from None
    if "\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


def normalize_priority(value: Any) -> Any:
    """Accept `medium` as `normal` and any case or padding; other values are left to the enum."""
    if isinstance(value, str) and value.strip().lower() == "medium":
        return Priority.NORMAL
    return value.strip().lower() if isinstance(value, str) else value


MAX_TAG = 100


def network_tag(value: str) -> str:
    """A customer's network tag (`olt:berlin-7`): 1–100 printable characters, no whitespace or
    control characters; matched exactly."""
    if not 1 <= len(value) <= MAX_TAG:
        raise ValueError(f"must be 1 to {MAX_TAG} characters")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
ShortText = Annotated[str, Field(max_length=MAX_SHORT_TEXT), AfterValidator(no_nul)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(no_nul)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION), AfterValidator(no_nul)]
Email = Annotated[str, AfterValidator(_email)]
Identifier = Annotated[str, AfterValidator(_identifier)]
CustomerId = Annotated[str, BeforeValidator(normalize_customer_id)]
PriorityField = Annotated[Priority, BeforeValidator(normalize_priority)]
Team = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(no_nul)]
Labels = Annotated[list[ShortText], Field(max_length=100)]
Name = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_nul)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
Tag = Annotated[str, AfterValidator(network_tag)]
Tags = Annotated[list[Tag], Field(max_length=100)]


class Contract(BaseModel):
    """Strict about unknown fields so a typo in another language's caller fails loudly."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def parse(model: type[M], data: Any) -> M:
    """Validate `data` as `model`, turning the first problem into a typed error naming its field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None


def invalid_input_from(exc: ValidationError) -> InvalidInput:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or exc.title
    value = first.get("input")
    reason = first["msg"].removeprefix("Value error, ")
    if field == "customer_id":
        return InvalidCustomerId(field, value, reason)
    return InvalidInput(field, value, reason)


M = TypeVar("M", bound=BaseModel)


def check_storable(**fields: str | None) -> None:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates) as a typed error on its field."""
    for field, value in fields.items():
        if value is None:
            continue
        if "\x00" in value:
            raise InvalidInput(field, value, "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(field, value, "is not valid UTF-8 text") from None
