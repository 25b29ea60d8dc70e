"""A wrong email and an unknown number take the same time; a real difference is detected."""

from __future__ import annotations

import time
from itertools import cycle

import httpx

from tests.web.tracking.conftest import Site, csrf_of

TRIES = 150


def prob_greater(a: list[float], b: list[float]) -> float:
    """P(a random sample of `a` exceeds one of `b`): 0.5 for equal distributions (the
    Mann-Whitney U statistic over n*m); scale-free, so no millisecond threshold."""
    wins = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
    return wins / (len(a) * len(b))


async def timed(client: httpx.AsyncClient, csrf: str, number: str, email: str) -> float:
    data = {"csrf": csrf, "tenant": "", "number": number, "email": email}
    start = time.perf_counter()
    response = await client.post("/track", data=data)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    return elapsed


async def test_wrong_email_and_unknown_number_are_indistinguishable_in_time(site: Site) -> None:
    await site.open_ticket()
    kinds = {
        "wrong_email": ("TKT-000001", "mallory@example.com"),
        "unknown_number": ("TKT-000777", "jane@example.com"),
        "malformed": ("TKT-12x", "jane@example.com"),
        "match": ("TKT-000001", "jane@example.com"),
    }
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    async with httpx.AsyncClient(base_url=site.url) as client:
        csrf = csrf_of((await client.get("/track")).text)
        for _ in range(5):  # warm-up: connections, statement caches
            for number, email in kinds.values():
                await timed(client, csrf, number, email)
        # Interleaved, so drift in the machine's load falls on every kind alike.
        order = cycle(kinds)
        for _ in range(TRIES * len(kinds)):
            kind = next(order)
            samples[kind].append(await timed(client, csrf, *kinds[kind]))

    # Equal distributions give 0.5 with a standard error of ~0.033 at 150 tries each; the band
    # is four and a half of those on each side. Without the lookup's time floor, equal work
    # alone read 0.47-0.65 for a wrong email on this machine (a found row costs PostgreSQL a
    # little more), one extra primary-key query 0.59-0.62.
    assert 0.35 < prob_greater(samples["wrong_email"], samples["unknown_number"]) < 0.65
    assert 0.35 < prob_greater(samples["malformed"], samples["unknown_number"]) < 0.65
    # The same statistic does see real extra work: a match reads the ticket and its timeline
    # (a few more queries), the size of difference a leaking lookup would show.
    assert prob_greater(samples["match"], samples["unknown_number"]) > 0.7


def test_the_statistic_reads_equal_and_shifted_samples_as_such() -> None:
    base = [float(i % 17) for i in range(100)]
    assert prob_greater(base, list(reversed(base))) == 0.5
    assert prob_greater([x + 100 for x in base], base) == 1.0
