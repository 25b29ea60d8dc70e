"""Hostile argv for every `ticketing` verb, through CliRunner, against the real stack.

Real PostgreSQL, a real Temporal dev server and a real worker (fixtures shared with
tests/ops/test_cli.py). For every call: exit code 0 or 2; on 2 exactly one `error: …` line on stderr
(or one `{"error": {...}}` object on stdout with --json); never a traceback; on 0 with --json,
stdout is JSON. A failing call leaves no rows behind, and at the end the ticket numbers are
gap-free and every ticket has exactly one `created` event and one `ticket_created` notification.

Examples are drawn with a fixed seed (`draw_many`), so every run sends the same calls.
Run with `-s` to see the outcome counts per verb.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from tests.conftest import truncate
from tests.ops.test_cli import BackgroundWorker
from tests.strategies import BAD_EMAIL, NASTY_TEXT, TICKET_TYPES, draw_many, mix
from ticketing.tickets.numbering import format_ticket_number, parse_ticket_number
from ticketing_ops.cli import app

TASK_QUEUE = "cli-fuzz"
NOW = datetime.now(UTC)

# -- argv values -----------------------------------------------------------------------------
# NUL cannot travel in argv; a lone surrogate can (Python's surrogateescape for non-UTF-8 bytes).

ARGV_CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
SAFE_NASTY = [value for value in NASTY_TEXT if "\x00" not in value]
CONTROL = ["\x01\x02\x1b[31m\x7f", "tab\there", "two\nlines", "cr\rreturn", "\x1b]0;t\x07", "\x08"]
SQL = ["'; DROP TABLE tickets; --", "1 OR 1=1", "%", "_", "\\", "' OR ''='", "$1", ":name", "*"]
HUGE = ["y" * 10_240, "😀" * 4_000, "é" * 12_000, "x" * 100_000, "a b " * 4_000]
UNDECODABLE = ["\udcff\udcfe", "caf\udce9"]
SPACES = ["a b", " acme", "acme ", "ac me", "\tacme", "acme\n"]

HOSTILE: SearchStrategy[str] = mix(
    st.text(ARGV_CHARS, max_size=30),
    st.sampled_from(SAFE_NASTY + CONTROL + SQL + SPACES),
    st.sampled_from(HUGE),
    st.sampled_from(UNDECODABLE),
)


def fuzz(*valid: SearchStrategy[str] | list[str], weight: int = 1) -> SearchStrategy[str]:
    """A valid value (`weight` times as likely as each junk branch) or hostile junk."""
    branches = [st.sampled_from(v) if isinstance(v, list) else v for v in valid]
    return mix(*(branches * weight), HOSTILE)


def iso(delta: timedelta, *, naive: bool = False, fmt: str | None = None) -> str:
    moment = NOW + delta
    if fmt:
        return moment.strftime(fmt)
    return (moment.replace(tzinfo=None) if naive else moment).isoformat()


TIMES = [
    iso(timedelta(days=2)),
    iso(timedelta(days=2), fmt="%Y-%m-%dT%H:%M:%SZ"),
    iso(timedelta(days=2), fmt="%Y-%m-%dT%H:%M:%S+05:30"),
]
BAD_TIMES = [
    iso(timedelta(days=-3)),  # in the past
    iso(timedelta(days=2), naive=True),  # no zone
    "2030-01-01",
    "2030-02-30T10:00:00Z",
    "2030-13-01T10:00:00+00:00",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+00:00",
    "tomorrow",
    "now",
    "1900000000",
    "-1",
    "",
]
TIME = mix(st.sampled_from(TIMES), st.sampled_from(TIMES), st.sampled_from(BAD_TIMES), HOSTILE)

PRIORITY = fuzz(
    ["low", "normal", "high", "urgent", "medium", " HIGH "],
    ["p0", "critical", "", "médium", "urgent;"],
)
STATUS = fuzz(
    ["open", "in_progress", "pending", "resolved", "closed", " OPEN "],
    ["bogus", "in progress", "", "opened"],
)
TYPE = fuzz(TICKET_TYPES, ["unknown", "billing issue", "", "INSTALLATION_REQUEST "])
EMAIL = mix(
    fuzz(["a@b.test", "Jane@Example.COM", " x.y+z@sub.example.org "], weight=2),
    BAD_EMAIL.filter(lambda e: "\x00" not in e),
)
NEW_ID = st.from_regex(r"fz[a-z0-9_.:-]{0,12}", fullmatch=True)
TENANT = fuzz(["acme"], ["ghost", "ACME", "a" * 64, "a" * 65, "-x"], weight=2)
CUSTOMER = mix(
    st.integers(1_000, 10**9).map(str),
    st.integers(1_000, 10**9).map(str),
    st.uuids().map(str),
    st.sampled_from(["42", "0042", " 42 ", "-5", "0x2A", "4_2", "٤٢", "1" * 70, "42.0", ""]),
    HOSTILE,
)
ACTOR = fuzz(["customer", "tenant", "partner", "platform", "TENANT"], ["admin", ""])
TIMEZONE = fuzz(
    ["UTC", "Europe/Paris", "America/New_York", "Etc/GMT+5"],
    ["Mars/Olympus", "utc", "../../etc/passwd", "Europe/Paris\n", "+05:30", ""],
)


def ticket_ref(seed: Seed, installations: list[str] | None = None) -> SearchStrategy[str]:
    installations = seed.installations if installations is None else installations
    known = [
        seed.onboarding,
        *installations,
        seed.onboarding.lower(),
        f" {seed.onboarding} ",
        seed.onboarding_id,
        seed.onboarding_id.upper(),
    ]
    return mix(
        st.sampled_from(known),
        st.sampled_from(known),
        st.sampled_from(
            [
                "TKT-999999",
                "TKT-",
                "TKT-abc",
                "TKT-1",
                "TKT-0000001",
                "TKT--1",
                f"{seed.onboarding}'; --",
                "TKT-000001 OR 1=1",
                "TKT-99999999999999999999",
                "TKT-٠٠٠٠٠١",
                "",
            ]
        ),
        st.uuids().map(str),
        HOSTILE,
    )


def options(**spec: SearchStrategy[Any]) -> SearchStrategy[dict[str, Any]]:
    """Each option present or not."""
    return st.fixed_dictionaries({}, optional=spec)


def argv(head: list[str], positional: str | None, opts: dict[str, Any]) -> list[str]:
    args = list(head)
    for name, value in opts.items():
        if value is True:
            args.append(name)
        elif isinstance(value, list):
            for item in value:
                args += [name, item]
        elif value is not False:
            args += [name, value]
    if positional is not None:
        args.append(positional)
    return args


MODE = st.sampled_from(["text", "json", "json", "both"])


def calls(
    head: list[str],
    positional: SearchStrategy[str] | None,
    required: dict[str, SearchStrategy[Any]],
    optional: dict[str, SearchStrategy[Any]],
) -> SearchStrategy[tuple[list[str], str]]:
    return st.tuples(
        positional if positional is not None else st.none(),
        st.fixed_dictionaries(required),
        options(**optional),
        MODE,
    ).map(lambda t: (argv(head, t[0], {**t[1], **t[2]}), t[3]))


def strategies(seed: Seed) -> dict[str, tuple[SearchStrategy[tuple[list[str], str]], int]]:
    ref = ticket_ref(seed)
    body = fuzz(["Thanks, looking into it", "ok"], weight=2)
    return {
        "tenant add": (
            calls(
                ["tenant", "add"],
                mix(NEW_ID, NEW_ID, HOSTILE.filter(lambda v: "acme" not in v)),
                {},
                {
                    "--name": fuzz(["Fuzz ISP"]),
                    "--partner": fuzz(["fiberco"], ["nobody", ""]),
                    "--timezone": TIMEZONE,
                    "--support-email": EMAIL,
                    "--demo-sla": st.booleans(),
                },
            ),
            60,
        ),
        "partner add": (
            calls(
                ["partner", "add"],
                mix(NEW_ID, NEW_ID, HOSTILE),
                {"--name": fuzz(["Fuzz Partner"], weight=2)},
                {"--email": EMAIL},
            ),
            40,
        ),
        "onboard": (
            calls(
                ["onboard"],
                None,
                {"--tenant": TENANT, "--customer-id": CUSTOMER, "--email": EMAIL},
                {
                    "--name": fuzz(["Jane", "O'Brien; --"]),
                    "--priority": PRIORITY,
                    "--team": fuzz(["onboarding_team"], ["", "t" * 101]),
                    "--notes": fuzz(["note"]),
                    "--no-wait": st.booleans(),
                    "--timeout": st.sampled_from(["abc", "0", "-1", "30", ""]),
                },
            ),
            80,
        ),
        "install": (
            calls(
                ["install"],
                None,
                {
                    "--tenant": TENANT,
                    "--customer-id": CUSTOMER,
                    "--address": fuzz(
                        ["1 Main St", "Rue de l'Église 5 🏠", "x" * 500], ["x" * 501]
                    ),
                    "--timeout": st.just("30"),
                },
                {
                    "--priority": PRIORITY,
                    "--team": fuzz(["field_ops"], [""]),
                    "--window-start": TIME,
                    "--window-end": TIME,
                    "--service": st.lists(fuzz(["fiber", "tv"]), max_size=3),
                    "--serial": st.lists(fuzz(["ONT-1"]), max_size=3),
                    "--notes": fuzz(["gate code 1234"]),
                    "--email": EMAIL,
                    "--name": fuzz(["Bob"]),
                },
            ),
            60,
        ),
        "installation schedule": (
            calls(
                ["installation", "schedule"],
                ref,
                {"--at": TIME, "--technician": fuzz(["Grace"], weight=2)},
                {},
            ),
            40,
        ),
        "installation complete": (
            calls(
                ["installation", "complete"],
                ticket_ref(seed, seed.installations[:2]),
                {"--timeout": st.just("20")},
                {"--notes": fuzz(["ONT online"]), "--no-wait": st.booleans()},
            ),
            20,
        ),
        "installation cancel": (
            calls(
                ["installation", "cancel"],
                ticket_ref(seed, seed.installations[2:]),
                {"--timeout": st.just("20"), "--reason": fuzz(["moved away"], weight=3)},
                {"--no-wait": st.booleans()},
            ),
            20,
        ),
        "ticket show": (
            calls(
                ["ticket", "show"],
                ref,
                {},
                {"--tenant": TENANT},
            ),
            30,
        ),
        "ticket reply": (
            calls(
                ["ticket", "reply"],
                ref,
                {"--body": body},
                {
                    "--internal": st.booleans(),
                    "--actor": ACTOR,
                    "--author": fuzz(["agent@acme.test"]),
                    "--tenant": TENANT,
                },
            ),
            50,
        ),
        **{
            f"ticket {verb}": (
                calls(
                    ["ticket", verb],
                    ref,
                    {},
                    {"--actor": fuzz(["agent"]), "--tenant": TENANT},
                ),
                20,
            )
            for verb in ("pending", "resolve", "close", "reopen")
        },
        "tickets list": (
            calls(
                ["tickets", "list"],
                None,
                {},
                {
                    "--tenant": TENANT,
                    "--status": STATUS,
                    "--priority": PRIORITY,
                    "--type": TYPE,
                    "--assignee": fuzz(["agent"]),
                    "--team": fuzz(["field_ops"]),
                    "--breached": st.booleans(),
                    "--not-breached": st.booleans(),
                    "--search": fuzz(["TKT-000001", "42", "Onboarding"]),
                    "--limit": fuzz(
                        ["1", "50", "500"],
                        ["501", "0", "-1", "abc", "1.5", "", "99999999999999999999"],
                    ),
                    "--cursor": fuzz([seed.cursor], ["garbage", "eyJ9", "MTIz", "=="]),
                },
            ),
            80,
        ),
    }


# -- running a call and judging its output ---------------------------------------------------


@dataclass
class Seed:
    onboarding: str = ""
    onboarding_id: str = ""
    installations: list[str] = field(default_factory=list)
    cursor: str = ""


@dataclass
class Outcome:
    args: list[str]
    json_out: bool
    exit_code: int
    kind: str  # "ok", the error type (--json), "text" (one error line), "usage" (click)
    payload: Any = None
    problems: list[str] = field(default_factory=list)
    usage_problem: str | None = None


def short(args: list[str]) -> str:
    return repr([a if len(a) <= 40 else f"{a[:20]}…({len(a)} chars)" for a in args])


def judge(args: list[str], json_out: bool, result: Result) -> Outcome:
    stdout, stderr = result.stdout, result.stderr
    outcome = Outcome(args, json_out, result.exit_code, "?")
    problems = outcome.problems
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(result.exception))
        problems.append(f"uncaught exception (a traceback outside CliRunner):\n{tb[-1500:]}")
    if "Traceback" in stdout or "Traceback" in stderr:
        problems.append("'Traceback' in output")
    if result.exit_code not in (0, 2):
        problems.append(f"exit code {result.exit_code}")
    if result.exit_code == 0:
        outcome.kind = "ok"
        if json_out:
            try:
                outcome.payload = json.loads(stdout)
            except ValueError:
                problems.append(f"exit 0 with --json but stdout is not JSON: {stdout[:300]!r}")
    elif result.exit_code == 2:
        if stderr.startswith("Usage:") and stdout == "":
            # click's own usage errors (wrong type for an option, missing option, unknown option).
            outcome.kind = "usage"
            bad = stderr.strip().splitlines()
            reason = " ".join(line.strip("│╭╮╰╯─ ") for line in bad[2:]).strip()
            outcome.payload = reason
            outcome.usage_problem = f"click usage panel ({len(bad)} lines): {reason}"
        elif json_out:
            lines = stdout.strip().splitlines()
            try:
                error = json.loads(stdout)["error"]
                assert len(lines) == 1
                assert isinstance(error["type"], str) and error["type"]
                assert isinstance(error["message"], str) and error["message"]
                assert "field" in error
                outcome.kind, outcome.payload = error["type"], error
            except (ValueError, KeyError, TypeError, AssertionError):
                problems.append(f"--json error is not one error object: {stdout[:300]!r}")
        else:
            lines = stderr.splitlines()
            if stdout:
                problems.append(f"stdout not empty on error: {stdout[:200]!r}")
            if len(lines) != 1 or not lines[0].startswith("error: ") or not lines[0][7:].strip():
                problems.append(f"stderr is not one 'error:' line: {stderr[:300]!r}")
            outcome.kind = "text"
            outcome.payload = lines[0] if lines else ""
    return outcome


COUNTED = ("tickets", "customers", "tenants", "partners", "ticket_messages")


async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in COUNTED))
            )
        ).one()
    return dict(zip(COUNTED, row, strict=True))


@dataclass
class Fuzzer:
    engine: AsyncEngine
    env: dict[str, str]
    runner: CliRunner = field(default_factory=CliRunner)
    outcomes: dict[str, list[Outcome]] = field(default_factory=lambda: defaultdict(list))

    async def invoke(self, args: list[str]) -> Result:
        return await asyncio.to_thread(self.runner.invoke, app, args, env=self.env)

    async def ok(self, *args: str) -> Any:
        result = await self.invoke([*args, "--json"])
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return json.loads(result.stdout)

    async def call(self, verb: str, args: list[str], json_out: bool) -> Outcome:
        before = await counts(self.engine)
        full = [*args, "--json"] if json_out else args
        outcome = judge(full, json_out, await self.invoke(full))
        self.outcomes[verb].append(outcome)
        await self.settle(verb, args, outcome)
        if outcome.exit_code != 0 and not self.may_finish_later(outcome):
            after = await counts(self.engine)
            if after != before:
                changed = {k: (before[k], after[k]) for k in COUNTED if before[k] != after[k]}
                outcome.problems.append(f"a failed call left rows behind: {changed}")
        return outcome

    @staticmethod
    def may_finish_later(outcome: Outcome) -> bool:
        """A timed-out wait: the workflow was started and may still write its ticket."""
        return outcome.kind == "Timeout" or (
            outcome.kind == "text" and "no ticket after" in str(outcome.payload)
        )

    async def settle(self, verb: str, args: list[str], outcome: Outcome) -> None:
        """Wait for work a call left running, so the next call's row counts are its own."""
        started = verb == "onboard" and (
            (outcome.exit_code == 0 and "--no-wait" in args) or self.may_finish_later(outcome)
        )
        if started:
            rerun = [a for a in args if a != "--no-wait"]
            if "--timeout" in rerun:
                at = rerun.index("--timeout")
                del rerun[at : at + 2]
            result = await self.invoke([*rerun, "--timeout", "30", "--json"])
            assert result.exit_code == 0, ("onboarding did not finish", args, result.stdout)
        elif verb.startswith("installation ") and outcome.exit_code == 0 and "--no-wait" in args:
            final = "resolved" if verb.endswith("complete") else "closed"
            await self.wait_for_status(args[-1], final)

    async def wait_for_status(self, ref: str, status: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            async with self.engine.connect() as connection:
                found = (
                    await connection.execute(
                        text(
                            "SELECT status FROM tickets WHERE number = :n "
                            "OR CAST(id AS text) = lower(trim(:r))"
                        ),
                        {"r": ref, "n": parse_ticket_number(ref)},
                    )
                ).scalar()
            if found == status:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{ref}: ticket never became {status}")


# -- fixtures --------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzer(
    owner_engine: AsyncEngine, env: dict[str, str], database_url: str
) -> AsyncIterator[tuple[Fuzzer, Seed]]:
    """Emptied database, partner fiberco, tenant acme, one onboarding and four installation
    tickets, and a worker running."""
    # The owner counts and empties: it sees every tenant's rows whatever a scope would show.
    engine = owner_engine
    await truncate(engine)
    fz = Fuzzer(engine, env)
    await fz.ok("partner", "add", "fiberco", "--name", "FiberCo", "--email", "noc@fiberco.test")
    await fz.ok(
        "tenant",
        "add",
        "acme",
        "--name",
        "Acme ISP",
        "--partner",
        "fiberco",
        "--support-email",
        "support@acme.test",
    )
    worker = BackgroundWorker(env, database_url)
    await asyncio.to_thread(worker.__enter__)
    try:
        seed = Seed()
        first = await fz.ok(
            "onboard", "--tenant", "acme", "--customer-id", "42", "--email", "jane@example.com"
        )
        seed.onboarding = first["ticket_number"]
        seed.onboarding_id = first["ticket"]["ticket_id"]
        for customer in ("77", "78", "79", "80"):
            started = await fz.ok(
                "install", "--tenant", "acme", "--customer-id", customer, "--address", "1 Main St"
            )
            seed.installations.append(started["ticket_number"])
        seed.cursor = (await fz.ok("tickets", "list", "--limit", "1"))["next_cursor"]
        assert seed.cursor
        yield fz, seed
    finally:
        await asyncio.to_thread(worker.__exit__, None, None, None)
        await truncate(engine)


# -- the tests -------------------------------------------------------------------------------


async def test_every_verb_survives_hostile_argv(fuzzer: tuple[Fuzzer, Seed]) -> None:
    fz, seed = fuzzer
    started = time.monotonic()
    plan = {verb: draw_many(strategy, n) for verb, (strategy, n) in strategies(seed).items()}
    for verb, examples in plan.items():
        for args, mode in examples:
            for json_out in {"text": [False], "json": [True], "both": [False, True]}[mode]:
                await fz.call(verb, args, json_out)

    await check_database(fz)
    elapsed = time.monotonic() - started
    report(fz, elapsed)

    problems = [
        f"{short(o.args)} -> exit {o.exit_code}: {p}"
        for outcomes in fz.outcomes.values()
        for o in outcomes
        for p in o.problems
    ]
    assert not problems, f"{len(problems)} contract violations:\n" + "\n".join(problems[:25])
    # Every verb had at least one call go through and one rejected.
    for verb, outcomes in fz.outcomes.items():
        kinds = {o.kind for o in outcomes}
        assert "ok" in kinds, (verb, kinds)
        assert kinds - {"ok"}, (verb, kinds)


async def check_database(fz: Fuzzer) -> None:
    async with fz.engine.connect() as connection:
        numbers = [
            row[0]
            for row in await connection.execute(text("SELECT number FROM tickets ORDER BY number"))
        ]
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        counter = (
            await connection.execute(text("SELECT max(value) FROM ticket_counters"))
        ).scalar()
        assert counter == len(numbers), (counter, len(numbers))
        for table, kind in (("ticket_events", "created"), ("notifications", "ticket_created")):
            wrong = (
                await connection.execute(
                    text(
                        f"SELECT t.number, count(x.id) FROM tickets t LEFT JOIN {table} x "
                        f"ON x.ticket_id = t.id AND x.kind = :kind GROUP BY t.number "
                        "HAVING count(x.id) <> 1"
                    ),
                    {"kind": kind},
                )
            ).all()
            assert not wrong, (table, kind, wrong)
        known = {
            format_ticket_number(row[0])
            for row in await connection.execute(text("SELECT number FROM tickets"))
        }
    created = [
        o.payload["ticket_number"]
        for verb in ("onboard", "install")
        for o in fz.outcomes[verb]
        if o.kind == "ok" and o.json_out and o.payload.get("ticket_number")
    ]
    assert set(created) <= known, set(created) - known


_FIELD = re.compile(r"[a-z_][a-z0-9_.]*")


def report(fz: Fuzzer, elapsed: float) -> None:
    total = sum(len(o) for o in fz.outcomes.values())
    print(f"\nCLI fuzz: {total} calls in {elapsed:.1f}s")
    for verb, outcomes in fz.outcomes.items():
        kinds: Counter[str] = Counter()
        for o in outcomes:
            if o.exit_code == 0:
                kinds["exit 0"] += 1
            elif o.kind == "text":
                kinds["exit 2 text"] += 1
            else:
                kinds[f"exit 2 {o.kind}"] += 1
        print(
            f"  {verb:<22} {len(outcomes):>4}  "
            + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
        )
    samples: dict[str, str] = {}
    for outcomes in fz.outcomes.values():
        for o in outcomes:
            if o.exit_code == 2 and o.kind not in ("text", "usage") and o.payload is not None:
                field_ = o.payload.get("field")
                samples.setdefault(f"{o.kind} field={field_}", o.payload["message"][:110])
            elif o.kind == "text":
                head = str(o.payload)[7:].split(": ")[0]
                key = f"text {head[:30]!r}" if _FIELD.fullmatch(head) else "text (no field)"
                samples.setdefault(key, str(o.payload)[:110])
    for key, message in sorted(samples.items()):
        print(f"    {key:<40} {message!r}")
    usage = Counter(
        str(o.payload).split(":")[0][:60]
        for outcomes in fz.outcomes.values()
        for o in outcomes
        if o.kind == "usage"
    )
    if usage:
        print(
            "  click usage errors (multi-line panel, no --json object): "
            + ", ".join(f"{k!r}: {v}" for k, v in usage.most_common())
        )


# -- regression: usage errors (bad option values, missing or unknown options) are one line ---


USAGE_CASES = [
    ["tickets", "list", "--limit", "abc"],
    [
        "onboard",
        "--tenant",
        "acme",
        "--customer-id",
        "1",
        "--email",
        "a@b.test",
        "--timeout",
        "abc",
    ],
    ["onboard", "--tenant", "acme"],
]


@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
async def test_usage_errors_follow_the_one_line_contract(
    fuzzer: tuple[Fuzzer, Seed], json_out: bool
) -> None:
    fz, _ = fuzzer
    for args in USAGE_CASES:
        full = [*args, "--json"] if json_out else args
        outcome = judge(full, json_out, await fz.invoke(full))
        assert outcome.exit_code == 2
        assert outcome.usage_problem is None, (full, outcome.usage_problem)


# -- regression: text the database cannot store is refused as InvalidInput naming the field

DATABASE_CASES = {
    "ticket number beyond int64": ["ticket", "show", "TKT-99999999999999999999"],
    "ticket number beyond int64 (schedule)": [
        "installation",
        "schedule",
        "TKT-99999999999999999999",
        "--at",
        TIMES[0],
        "--technician",
        "Grace",
    ],
    "non-UTF-8 --tenant": ["tickets", "list", "--tenant", "\udcff\udcfe"],
    "non-UTF-8 --assignee": ["tickets", "list", "--assignee", "caf\udce9"],
    "non-UTF-8 --search": ["tickets", "list", "--search", "caf\udce9"],
    "non-UTF-8 reply --body": ["ticket", "reply", "TKT-000001", "--body", "caf\udce9"],
    "non-UTF-8 reply --author": [
        "ticket",
        "reply",
        "TKT-000001",
        "--body",
        "hi",
        "--author",
        "caf\udce9",
    ],
    "non-UTF-8 status --actor": ["ticket", "pending", "TKT-000001", "--actor", "caf\udce9"],
}


@pytest.mark.parametrize("args", list(DATABASE_CASES.values()), ids=list(DATABASE_CASES))
async def test_values_the_database_refuses_name_the_field(
    fuzzer: tuple[Fuzzer, Seed], args: list[str]
) -> None:
    fz, _ = fuzzer
    outcome = judge([*args, "--json"], True, await fz.invoke([*args, "--json"]))
    assert not outcome.problems, outcome.problems
    assert outcome.exit_code == 2
    assert outcome.payload["field"] is not None, outcome.payload
    assert "database:" not in outcome.payload["message"], outcome.payload
