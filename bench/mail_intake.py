"""Mail in through the SMTP intake against the HTTP create in the same run, c=1 and c=8.

Run: python -m bench.mail_intake [--seconds 3] [--rounds 3] [--database-url URL]

Both doors run as their own process on loopback over one PostgreSQL, with no Temporal (no
watchers, notices left queued): the SMTP intake (`ticketing mail serve`'s server and flow,
every rule of the contract on: the raw message stored first, loop and list headers, the
per-sender rate, the sender policy, threading, then the create through the ticket flows)
and the API (as bench.api). A message counts once the client has its 250, which the intake
answers only after the outcome is committed. Each concurrent sender is one SMTP session
(EHLO once, then MAIL, RCPT, DATA per message, every reply awaited and checked), sending a
fresh message (its own Message-ID) from a registered customer, the senders taken in turn from
3,000 registered customers so that none reaches the default per-hour limit (the rate check
runs as deployed). The client is a few lines over asyncio streams with the message bytes made
once and only the sender and Message-ID put in per message: for the reason bench.api uses wrk
(a Python client's CPU is taken from the server on two cores); aiosmtplib with an
EmailMessage per mail cost ~1 ms of client CPU per message here, more than the server's SMTP
dialogue. HTTP load comes from wrk, as in bench.api.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.api import analyze, free_port, wait_until_serving, wrk_create
from bench.common import (
    ROOT,
    ProcessMeter,
    bench_database,
    machine,
    quiet_logging,
    summary,
    write_result,
)
from ticketing.auth.apikeys import ApiKeyService
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.db.engine import migrate_async
from ticketing.mail.mailboxes import MailboxService
from ticketing.runtime.loop import run_server
from ticketing.teams.schemas import TeamCreate
from ticketing.teams.service import TeamService
from ticketing.tenants.service import TenantService

T = TypeVar("T")
CONCURRENCY = (1, 8)
GOAL = 0.8
PLATFORM = Principal.platform(name="bench")
MAILBOX = "support@bench.test"
SENDERS = 3000


def serve_smtp(url: str, port: int) -> None:
    """The SMTP intake process: the server and flow of `ticketing mail serve`, no Temporal."""
    from bench.api import NoWatchers, QueuedNotices
    from ticketing.mail.flows import IntakeConfig, MailIntake
    from ticketing.smtp.server import smtp_intake

    quiet_logging()

    async def main() -> None:
        engine = create_async_engine(url, pool_size=20, max_overflow=0)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        # As `ticketing mail serve`: the mailbox lookups on a small pool of their own.
        lookup_engine = create_async_engine(url, pool_size=2, max_overflow=10)
        lookups = async_sessionmaker(lookup_engine, expire_on_commit=False)
        intake = MailIntake(
            sessions,
            watchers=NoWatchers(),
            notices=QueuedNotices(),
            config=IntakeConfig(mail_domain="bench.test"),
            lookups=lookups,
        )
        async with smtp_intake(intake, host="127.0.0.1", port=port, max_bytes=25 << 20):
            await asyncio.Event().wait()

    # As `ticketing mail serve` runs (and as uvicorn runs the API): on uvloop.
    run_server(main())


def message(sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Customer <{sender}>"
    mail["To"] = MAILBOX
    mail["Subject"] = "No internet since this morning"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@bench.example>"
    mail["Date"] = "Tue, 08 Dec 2026 09:15:00 +0100"
    mail.set_content("Hello,\nmy router shows a red light.\n\nOn Monday you wrote:\n> old text\n")
    return mail


# `message`'s bytes as SMTP carries them (CRLF, dot-stuffed), made once: each mail differs
# only in its sender and Message-ID, put in by `wire_message`.
_TEMPLATE = (
    message("SENDER@bench.example")
    .as_bytes(policy=SMTP_POLICY)
    .replace(b"\r\n.", b"\r\n..")
    .replace(b"SENDER@bench.example", b"%(sender)s")
)
_TEMPLATE = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <%(id)s@bench.example>", _TEMPLATE)


def wire_message(sender: str) -> bytes:
    """One fresh message from `sender`, ready for DATA (ends with the lone dot)."""
    fields = {b"sender": sender.encode(), b"id": uuid.uuid4().hex.encode()}
    return _TEMPLATE % fields + b".\r\n"


class SmtpSession:
    """One SMTP client session over asyncio streams: every reply awaited and checked."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> SmtpSession:
        session = cls(*await asyncio.open_connection("127.0.0.1", port))
        await session.expect(b"220")
        await session.command(b"EHLO bench.example\r\n", b"250")
        return session

    async def expect(self, code: bytes) -> bytes:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 30)
            if not line[3:4] == b"-":
                break
        if not line.startswith(code):
            raise RuntimeError(f"intake answered {line!r}, expected {code!r}")
        return line

    async def command(self, line: bytes, code: bytes) -> bytes:
        self.writer.write(line)
        return await self.expect(code)

    async def send(self, sender: str) -> bytes:
        """MAIL, RCPT, DATA and the message; the final reply."""
        await self.command(b"MAIL FROM:<%s>\r\n" % sender.encode(), b"250")
        await self.command(b"RCPT TO:<%s>\r\n" % MAILBOX.encode(), b"250")
        await self.command(b"DATA\r\n", b"354")
        return await self.command(wire_message(sender), b"250")

    async def close(self) -> None:
        await self.command(b"QUIT\r\n", b"221")
        self.writer.close()
        await self.writer.wait_closed()


turns = itertools.count()


async def smtp_run(port: int, seconds: float, concurrency: int) -> tuple[float, list[float]]:
    """Messages per second with a 250 each, `concurrency` senders on their own sessions."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def sender(index: int) -> None:
        client = await SmtpSession.open(port)
        try:
            while time.perf_counter() < stop:
                address = f"customer{next(turns) % SENDERS}@bench.example"
                started = time.perf_counter()
                reply = await client.send(address)
                if b"Accepted (created)" not in reply:
                    raise RuntimeError(f"intake answered {reply!r}")
                latencies.append(time.perf_counter() - started)
        finally:
            await client.close()

    start = time.perf_counter()
    await asyncio.gather(*(sender(i) for i in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


async def metered(meter: ProcessMeter, run: Awaitable[T]) -> tuple[T, float]:
    """`run`'s result and the CPU seconds `meter`'s process spent meanwhile."""
    before = meter.cpu_seconds()
    result = await run
    return result, meter.cpu_seconds() - before


async def wait_for_smtp(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"the SMTP process exited with {server.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the SMTP intake did not listen within 30 s")


async def seed(url: str) -> str:
    """The bench tenant, its team, 3,000 registered customers and the mailbox; an API key."""
    await migrate_async(url)
    engine = create_async_engine(url, pool_size=4, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        tenants = TenantService(session, PLATFORM)
        await tenants.register_tenant("bench")
        await tenants.upsert_customer(tenant_id="bench", customer_id="1")
        # BODY names this team, and the HTTP create accepts only a team the tenant has.
        await TeamService(session, PLATFORM).create_team(TeamCreate(name="support"), "bench")
        await session.execute(
            text(
                "INSERT INTO customers (tenant_id, id, email) SELECT 'bench', (100 + n)::text,"
                " 'customer' || n || '@bench.example' FROM generate_series(0, :last) AS n"
            ),
            {"last": SENDERS - 1},
        )
        await MailboxService(session, PLATFORM).add(MAILBOX, tenant_id="bench")
        key = (
            await ApiKeyService(session, PLATFORM).issue(
                KeyRole.TENANT_AGENT, tenant_id="bench", name="bench"
            )
        ).key
    await engine.dispose()
    return key


async def bench(url: str, seconds: float, rounds: int) -> dict[str, Any]:
    key = await seed(url)
    engine = create_async_engine(url, pool_size=4, max_overflow=0)
    api_port, smtp_port = free_port(), free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "bench.api", "--serve", "--database-url", url,
         "--port", str(api_port)], cwd=ROOT)  # fmt: skip
    smtp = subprocess.Popen(
        [sys.executable, "-m", "bench.mail_intake", "--serve", "--database-url", url,
         "--port", str(smtp_port)], cwd=ROOT)  # fmt: skip
    rows = []
    api_meter, smtp_meter = ProcessMeter(api.pid, alone=True), ProcessMeter(smtp.pid, alone=True)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as c:
            await wait_until_serving(c, api)
        await wait_for_smtp(smtp_port, smtp)
        for concurrency in CONCURRENCY:
            await wrk_create(api_port, key, 1, concurrency)  # warm up both
            await smtp_run(smtp_port, min(1.0, seconds / 3), concurrency)
            await analyze(engine)
            measured = []
            for round_ in range(rounds):
                if round_ % 2:
                    http, http_cpu = await metered(
                        api_meter, wrk_create(api_port, key, seconds, concurrency)
                    )
                (smtp_rate, smtp_lat), smtp_cpu = await metered(
                    smtp_meter, smtp_run(smtp_port, seconds, concurrency)
                )
                if not round_ % 2:
                    http, http_cpu = await metered(
                        api_meter, wrk_create(api_port, key, seconds, concurrency)
                    )
                http_rate = http["requests"] / (http["duration_us"] / 1e6)
                measured.append(
                    (smtp_rate / http_rate, smtp_rate, smtp_lat, http_rate, http,
                     smtp_cpu / max(1, len(smtp_lat)), http_cpu / max(1, http["requests"]))
                )  # fmt: skip
            measured.sort(key=lambda r: r[0])
            ratio, smtp_rate, smtp_lat, http_rate, http, smtp_cpu, http_cpu = measured[
                len(measured) // 2
            ]
            rows.append(
                {
                    "concurrency": concurrency,
                    "smtp_per_s": smtp_rate,
                    "http_per_s": http_rate,
                    "ratio": ratio,
                    "round_ratios": [round(r[0], 3) for r in measured],
                    "smtp_latency_s": summary(smtp_lat),
                    "http_latency_s": {
                        "n": http["requests"],
                        "p50": http["p50_us"] / 1e6,
                        "p99": http["p99_us"] / 1e6,
                    },
                    # The server process's own CPU per message or create (user + system;
                    # PostgreSQL's not counted): steadier than the rates on a loaded machine.
                    "smtp_server_cpu_ms": smtp_cpu * 1000,
                    "http_server_cpu_ms": http_cpu * 1000,
                }
            )
    finally:
        for process in (api, smtp):
            process.terminate()
            process.wait(30)
        await engine.dispose()
    return {
        "benchmark": "mail_intake",
        "seconds_per_point": seconds,
        "rounds": rounds,
        "goal_ratio": GOAL,
        "smtp_client": "asyncio streams, one session per concurrent sender (SmtpSession)",
        "http_client": "wrk -t1 (bench/wrk_create.lua)",
        "machine": machine(),
        "rows": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"machine: {result['machine']}")
    print(
        "  c  smtp msg/s  http/s  ratio  smtp p50/p99 ms   http p50/p99 ms"
        "  server CPU ms/op smtp / http"
    )
    for row in result["rows"]:
        s, h = row["smtp_latency_s"], row["http_latency_s"]
        print(
            f"{row['concurrency']:>3} {row['smtp_per_s']:>11.0f} {row['http_per_s']:>7.0f}"
            f" {row['ratio']:>6.2f}  {s['p50'] * 1000:>7.1f} / {s['p99'] * 1000:<7.1f}"
            f"  {h['p50'] * 1000:>7.1f} / {h['p99'] * 1000:<7.1f}"
            f"  {row['smtp_server_cpu_ms']:>6.2f} / {row['http_server_cpu_ms']:.2f}"
            f"  rounds {row['round_ratios']}"
        )
    print(f"goal: smtp/http >= {result['goal_ratio']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("TICKETING_BENCH_DATABASE_URL"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_smtp(args.database_url, args.port)
        return
    quiet_logging()
    with bench_database(args.database_url) as url:
        result = asyncio.run(bench(url, args.seconds, max(1, args.rounds)))
    write_result("mail_intake", result)
    print_table(result)


if __name__ == "__main__":
    main()
