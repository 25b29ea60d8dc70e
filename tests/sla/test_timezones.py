"""A time zone name is bad input whatever it looks like, never an infrastructure error."""

from __future__ import annotations

import pytest

from ticketing.sla.calendar import validate_timezone

LONG = "Ṱ̺̺̕o͞ ̷i̲̬͇̪͙n̝̗͕v̟̜̘̦͟o̶̙̰̠kè͚̮̺̪̹̱̤" * 20  # schemathesis found this shape: over NAME_MAX


@pytest.mark.parametrize("name", [LONG, "x" * 300, "Europe/../../etc/passwd", "a\x00b", ""])
def test_an_impossible_zone_name_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        validate_timezone(name)


def test_a_real_zone_passes() -> None:
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"
