"""Hypothesis strategies for hostile payloads of the public contracts (see
tests/activities/test_fuzz.py).

Every strategy yields mostly-invalid but sometimes-valid payloads: dicts with wrong types,
awkward text, unknown fields or missing required fields, plus the odd non-dict. The valid
branch refers to the seeded tenants `acme` (customer "42") and `globex` (customer "7").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

NOW = datetime.now(UTC)

# -- building blocks -----------------------------------------------------------------------


def mix(*strategies: SearchStrategy[Any]) -> SearchStrategy[Any]:
    """One of `strategies`, each equally likely (st.one_of flattens nested one_ofs, so a
    field's single valid branch would drown among the many branches of its junk)."""
    return st.sampled_from(strategies).flatmap(_same)


def _same(value: Any) -> Any:
    return value


NASTY_TEXT = [
    "",
    " ",
    "\t\n\r ",
    "'; DROP TABLE tickets; --",
    "Robert'); DROP TABLE customers;--",
    "1 OR 1=1",
    "%_\\%",
    "${jndi:ldap://evil/x}",
    "<script>alert(1)</script>",
    "null",
    "😀🎉👩‍👩‍👧‍👦🏳️‍🌈",
    "مرحبا بالعالم",
    "שלום עולם",
    "\u202eevil\u202c",
    "e\u0301\u0301\u0301\u0308",
    "Z̷̢̛͉a̵̼͌l̸̰̓g̴̣̈o̶̜̍",
    "\ufeffBOM",
    "line\u2028sep\u2029para",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m\x7f",
    "İİİ",
    "ǅ ß ﬃ",
    "x" * 200,
    "x" * 201,
]
HUGE_TEXT = ["y" * 65_536, "y" * 65_537, "z" * 1_000_000, "😀" * 250_000]

WRONG_TYPES: SearchStrategy[Any] = mix(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def text(*, huge: bool = True) -> SearchStrategy[str]:
    """Arbitrary short text, hand-picked nasty text, and (optionally) huge text."""
    branches: list[SearchStrategy[str]] = [st.text(max_size=40), st.sampled_from(NASTY_TEXT)]
    if huge:
        branches.append(st.sampled_from(HUGE_TEXT))
    return mix(*branches)


def anything(*, huge: bool = True) -> SearchStrategy[Any]:
    return mix(text(huge=huge), WRONG_TYPES)


def fuzzed(valid: SearchStrategy[Any], *, huge: bool = True) -> SearchStrategy[Any]:
    """A field value: valid, or anything else."""
    return mix(valid, anything(huge=huge))


VALID_PRIORITY = st.sampled_from(["low", "normal", "high", "urgent", "medium", " HIGH ", "Medium"])
BAD_PRIORITY = st.sampled_from(["p0", "", "critical", "urgent\x00", "médium"])
TICKET_TYPES = [
    "general_inquiry",
    "billing_issue",
    "technical_support",
    "installation_request",
    "outage_report",
    "service_upgrade",
    "service_downgrade",
    "cancellation_request",
    "equipment_issue",
    "speed_issue",
    "network_issue",
    "connectivity_issue",
]
BAD_TICKET_TYPE = st.sampled_from(["unknown", "INSTALLATION_REQUEST", "", "billing issue"])
VALID_CHANNEL = st.sampled_from(["workflow", "web", "email", "chat", "api"])
BAD_CHANNEL = st.sampled_from(["fax", "WEB", "", "sms"])

VALID_EMAIL = st.sampled_from(["a@b.test", "Jane@Example.COM", " x.y+z@sub.example.org "])
BAD_EMAIL = st.sampled_from(
    [
        "nope",
        "a@b",
        "",
        "a b@c.de",
        "@b.co",
        "x" * 65 + "@b.co",
        "a@" + "b" * 250 + ".co",
        "a\x00@b.co",  # NUL passes the e-mail regex
        "İ" * 60 + "@" + "b" * 190 + ".co",  # 254 chars, longer once lower-cased
        "😀@😀.😀",
    ]
)

KNOWN_CUSTOMERS = st.sampled_from(["42", 42, "0042", " 42 ", "7", 7])
CUSTOMER_ID: SearchStrategy[Any] = mix(
    KNOWN_CUSTOMERS,
    st.sampled_from(
        [
            "42.0",
            42.0,
            -1,
            -42,
            2**63,
            2**64 + 1,
            10**70,  # 71 digits: valid for the schema, longer than customers.id
            "1" * 30,
            "1" * 31,
            "٤٢",
            "not-an-id",
            "",
            " ",
            True,
            None,
            [42],
            {"id": 42},
            "42; DROP TABLE customers",
            "0x2A",
            "4_2",
        ]
    ),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.integers(),
    anything(huge=False),
)

TENANT_ID: SearchStrategy[Any] = mix(
    st.sampled_from(["acme", "globex"]),
    st.sampled_from(
        ["ghost", "ACME", "", " acme", "acme ", "a" * 64, "a" * 65, "-x", "acme'; --", "ac me"]
    ),
    anything(huge=False),
)

IDEMPOTENCY_KEY: SearchStrategy[Any] = mix(
    st.sampled_from(["k1", "k2", "k3"]),
    st.uuids().map(str),
    st.sampled_from(["", " ", "k" * 200, "k" * 201, "k\x00", "ключ-😀"]),
    anything(huge=False),
)

JSON_LEAF = mix(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    text(huge=False),
)
METADATA: SearchStrategy[Any] = mix(
    st.dictionaries(
        text(huge=False),
        st.recursive(
            JSON_LEAF,
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=6,
        ),
        max_size=4,
    ),
    anything(huge=False),
)


def labels(*, huge: bool = True) -> SearchStrategy[Any]:
    return mix(
        st.lists(st.sampled_from(["internet", "tv", "ONT-1", "SN-ß-😀"]), max_size=4),
        st.lists(text(huge=False), max_size=3),
        st.lists(st.just("x"), min_size=101, max_size=101),
        st.lists(WRONG_TYPES, min_size=1, max_size=2),
        anything(huge=huge),
    )


def iso(delta: timedelta, *, naive: bool = False) -> str:
    moment = NOW + delta
    return (moment.replace(tzinfo=None) if naive else moment).isoformat()


WINDOW_TIME: SearchStrategy[Any] = mix(
    st.sampled_from(
        [
            iso(timedelta(days=1)),
            iso(timedelta(days=3)),
            iso(timedelta(days=-30)),  # in the past
            iso(timedelta(days=2), naive=True),  # no zone
            (NOW + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S+05:30"),
            "2030-01-01",
            "2030-02-30T10:00:00Z",
            "tomorrow",
            "",
            1_900_000_000,
            -1,
            10**20,
        ]
    ),
    anything(huge=False),
)


# -- payload shapes ------------------------------------------------------------------------


def payloads(
    valid_required: dict[str, SearchStrategy[Any]],
    valid_optional: dict[str, SearchStrategy[Any]],
    fuzz_required: dict[str, SearchStrategy[Any]],
    fuzz_optional: dict[str, SearchStrategy[Any]],
) -> SearchStrategy[Any]:
    """Valid dicts, valid dicts with one field fuzzed, fuzzed dicts, dicts missing a required
    field or with an extra one, junk."""
    valid = st.fixed_dictionaries(valid_required, optional=valid_optional)
    fuzzy = st.fixed_dictionaries(fuzz_required, optional=fuzz_optional)

    def drop(data: st.DataObject, payload: dict[str, Any]) -> dict[str, Any]:
        key = data.draw(st.sampled_from(sorted(valid_required)))
        return {k: v for k, v in payload.items() if k != key}

    fuzz_fields = {**fuzz_required, **fuzz_optional}

    def poison(data: st.DataObject, payload: dict[str, Any]) -> dict[str, Any]:
        key = data.draw(st.sampled_from(sorted(fuzz_fields)))
        return {**payload, key: data.draw(fuzz_fields[key])}

    poisoned = st.tuples(st.data(), valid).map(lambda pair: poison(*pair))
    missing = st.tuples(st.data(), valid).map(lambda pair: drop(*pair))
    extra = st.tuples(
        valid,
        mix(
            st.sampled_from(["titel", "Title", "customerId", "tenant", "", "\x00", "😀", "id"]),
            st.text(min_size=1, max_size=10),
        ),
        anything(huge=False),
    ).map(lambda t: {**t[0], t[1]: t[2]} if t[1] not in t[0] else {**t[0], "zz_extra": t[2]})
    junk = mix(anything(huge=False), st.lists(valid, min_size=1, max_size=2))
    # Weighted choice (a flat one_of would weigh every branch of `junk` like `valid`).
    shapes = [valid] * 5 + [poisoned] * 8 + [fuzzy] * 4 + [missing, extra, extra, junk]
    return st.sampled_from(shapes).flatmap(_same)


def create_ticket_requests(*, huge: bool = True) -> SearchStrategy[Any]:
    key = mix(st.sampled_from(["k1", "k2"]), st.uuids().map(str))
    valid_optional = {
        "description": mix(st.text(max_size=60), st.sampled_from(NASTY_TEXT[:18])),
        "priority": VALID_PRIORITY,
        "assigned_team": st.sampled_from(["field_ops", "billing", "ñoc-😀"]),
        "ticket_type": st.sampled_from([t for t in TICKET_TYPES if t != "installation_request"]),
        "channel": VALID_CHANNEL,
        "affected_services": st.lists(st.sampled_from(["internet", "tv"]), max_size=2),
        "requester_email": VALID_EMAIL,
        "idempotency_key": key,
        "metadata": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
    }
    valid_required = {
        "title": mix(st.sampled_from(["No internet", " Slow ", "😀 down", "ş" * 200])),
        "customer_id": KNOWN_CUSTOMERS,
    }
    fuzz_optional = {
        "description": fuzzed(st.text(), huge=huge),
        "priority": mix(VALID_PRIORITY, BAD_PRIORITY, anything(huge=False)),
        "assigned_team": fuzzed(st.just("field_ops"), huge=False),
        "tenant_id": TENANT_ID,
        "ticket_type": mix(st.sampled_from(TICKET_TYPES), BAD_TICKET_TYPE, WRONG_TYPES),
        "service_address": fuzzed(st.just("1 Fiber Way"), huge=huge),
        "affected_services": labels(huge=False),
        "device_serial_numbers": labels(huge=False),
        "channel": mix(VALID_CHANNEL, BAD_CHANNEL, WRONG_TYPES),
        "requester_email": mix(VALID_EMAIL, BAD_EMAIL, WRONG_TYPES),
        "idempotency_key": IDEMPOTENCY_KEY,
        "metadata": METADATA,
    }
    fuzz_required = {"title": fuzzed(st.just("No internet"), huge=huge), "customer_id": CUSTOMER_ID}
    return payloads(valid_required, valid_optional, fuzz_required, fuzz_optional)


NEW_CUSTOMERS = st.sampled_from(["1001", 1002, "1003", "0042", 7])


def onboarding_inputs() -> SearchStrategy[Any]:
    valid_required = {
        "tenant_id": st.sampled_from(["acme", "globex"]),
        "customer_id": NEW_CUSTOMERS,
        "customer_email": VALID_EMAIL,
    }
    valid_optional = {
        "customer_name": st.sampled_from(["Jane", "Ünïcødé 😀", "O'Brien; --"]),
        "priority": VALID_PRIORITY,
        "notes": st.text(max_size=40),
        "idempotency_key": mix(st.sampled_from(["k1", "k2"]), st.uuids().map(str)),
    }
    fuzz_required = {
        "tenant_id": TENANT_ID,
        "customer_id": CUSTOMER_ID,
        "customer_email": mix(VALID_EMAIL, BAD_EMAIL, WRONG_TYPES),
    }
    fuzz_optional = {
        "customer_name": fuzzed(st.just("Jane"), huge=False),
        "priority": mix(VALID_PRIORITY, BAD_PRIORITY, WRONG_TYPES),
        "assigned_team": fuzzed(st.just("onboarding_team"), huge=False),
        "notes": fuzzed(st.text(max_size=20), huge=False),
        "idempotency_key": IDEMPOTENCY_KEY,
    }
    return payloads(valid_required, valid_optional, fuzz_required, fuzz_optional)


def installation_inputs() -> SearchStrategy[Any]:
    window = st.sampled_from(
        [
            {},
            {"window_start": iso(timedelta(days=1)), "window_end": iso(timedelta(days=3))},
            {"window_start": iso(timedelta(days=-3)), "window_end": iso(timedelta(days=-1))},
        ]
    )
    valid_required = {
        "tenant_id": st.sampled_from(["acme", "globex"]),
        "customer_id": NEW_CUSTOMERS,
        "service_address": st.sampled_from(["1 Fiber Way", "Rue de l'Église 5 🏠", "x" * 500]),
    }
    valid_optional = {
        "priority": VALID_PRIORITY,
        "device_serial_numbers": st.lists(st.sampled_from(["ONT-1", "ONT-2"]), max_size=2),
        "customer_email": VALID_EMAIL,
        "idempotency_key": st.uuids().map(str),
    }
    valid = st.tuples(st.fixed_dictionaries(valid_required, optional=valid_optional), window).map(
        lambda pair: {**pair[0], **pair[1]}
    )
    fuzz_required = {
        "tenant_id": TENANT_ID,
        "customer_id": CUSTOMER_ID,
        "service_address": fuzzed(st.just("1 Fiber Way"), huge=False),
    }
    fuzz_optional = {
        "priority": mix(VALID_PRIORITY, BAD_PRIORITY, WRONG_TYPES),
        "window_start": WINDOW_TIME,
        "window_end": WINDOW_TIME,
        "affected_services": labels(huge=False),
        "device_serial_numbers": labels(huge=False),
        "notes": fuzzed(st.text(max_size=20), huge=False),
        "customer_email": mix(VALID_EMAIL, BAD_EMAIL, WRONG_TYPES),
        "customer_name": fuzzed(st.just("Jane"), huge=False),
        "idempotency_key": IDEMPOTENCY_KEY,
    }
    return st.sampled_from(
        [valid] + [payloads(valid_required, valid_optional, fuzz_required, fuzz_optional)] * 2
    ).flatmap(_same)


# -- drawing outside of @given -------------------------------------------------------------


def draw_many(strategy: SearchStrategy[Any], n: int) -> list[Any]:
    """Up to `n` examples of `strategy`, the same on every run (no database, no shrinking).

    The async checks then run on the session's event loop, outside of hypothesis.
    """
    examples: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        examples.append(example)

    collect()
    return examples


# -- a hand-picked corpus: one hostile value on an otherwise valid payload -----------------

SCHEMA_VALID_BUT_HOSTILE: dict[str, list[Any]] = {
    "requester_email": ["a\x00@b.co", "İ" * 60 + "@" + "b" * 190 + ".co", "😀@😀.😀"],
    "customer_email": ["a\x00@b.co", "İ" * 60 + "@" + "b" * 190 + ".co"],
    "idempotency_key": ["k\x00", "'; DROP TABLE tickets; --", "ключ-😀", "k" * 200],
    "metadata": [
        {"a": float("nan")},
        {"a": float("inf")},
        {"a": "\x00"},
        {"a\x00": 1},
        {"n": 2**80},
    ],
    "customer_id": [10**70, "1" * 30, 2**63],
    "customer_name": ["n" * 201, "n" * 500, "\x01\x1f"],
    "description": ["z" * 1_000_000, "😀" * 16_384],
    "title": ["ş" * 200, "'; DROP TABLE tickets; --", "e\u0301" * 100],
    "tenant_id": ["globex", "ghost", "acme"],
    "service_address": ["a" * 500, "\u202eevil"],
    "assigned_team": ["t" * 100, "😀" * 100],
    "notes": ["z" * 65_536],
}


def corpus(base: dict[str, Any], fields: set[str]) -> list[dict[str, Any]]:
    """`base` with each hostile value of each field in `fields`, one at a time."""
    return [
        {**base, field: value}
        for field, values in SCHEMA_VALID_BUT_HOSTILE.items()
        if field in fields
        for value in values
    ]
