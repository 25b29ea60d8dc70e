"""The HTTP share of the load: `POST /api/v1/tickets` with the request's business key as its
Idempotency-Key, sent again on every answer that is not final, as a careful client would."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import httpx

from chaos.plan import Request

# Answers worth sending again with the same key: the request may or may not have committed.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REPLAY_RATIO = 0.1


class HttpLoad:
    """Creates tickets through `ticketing api`; counts what it had to retry and why."""

    def __init__(self, base_url: str, keys: dict[str, str], rng: random.Random) -> None:
        self.base_url = base_url
        self.keys = keys
        self.rng = rng
        self.retries = Counter[str]()
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> HttpLoad:
        # No pooled connection survives a killed API: a fresh one for every attempt.
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(20.0, connect=3.0),
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def create(self, request: Request, deadline: float) -> None:
        """Until a 201; one key in ten is then sent once more, as by a client that lost the
        first answer: the replay must name the same ticket."""
        await self._post(request, deadline)
        if self.rng.random() < REPLAY_RATIO:
            await self._post(request, deadline)

    async def _post(self, request: Request, deadline: float) -> None:
        assert self._client is not None
        body = {
            "title": f"Chaos HTTP request {request.customer_id}",
            "description": "made through the API while processes die",
            "customer_id": request.customer_id,
            "priority": "normal",
        }
        headers = {
            "Authorization": f"Bearer {self.keys[request.tenant_id]}",
            "Idempotency-Key": request.business_key,
        }
        delay = 0.2
        while True:
            request.start_attempts += 1
            why: str
            try:
                answer = await self._client.post("/api/v1/tickets", json=body, headers=headers)
            except httpx.TransportError as error:
                why = type(error).__name__
            else:
                if answer.status_code == 201:
                    request.ticket_numbers.append(answer.json()["ticket_number"])
                    request.started = True
                    return
                if answer.status_code not in RETRY_STATUSES:
                    raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:300]}")
                why = f"HTTP {answer.status_code}"
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"POST /tickets {request.business_key}: gave up after {why}")
            self.retries[why] += 1
            await asyncio.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 3.0)
