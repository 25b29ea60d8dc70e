"""A stopped worker's doorbell stops ringing: a ring still retrying against a server that has
gone away is dropped after CLOSE_GRACE instead of retrying, and logging, for RING_TIMEOUT."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from ticketing.notifications.dispatch import DispatcherInput
from ticketing.runtime.settings import Settings
from ticketing.temporal.codec import data_converter
from ticketing.temporal.dispatcher import CLOSE_GRACE, RING_TIMEOUT, DispatcherDoorbell
from ticketing_ops.devstack import find_free_port


async def dead_client() -> Client:
    """A client of an address nobody listens on (lazy: connecting fails only when used)."""
    return await Client.connect(
        f"127.0.0.1:{find_free_port()}", lazy=True, data_converter=data_converter(Settings())
    )


async def test_closing_drops_a_ring_that_cannot_land() -> None:
    assert CLOSE_GRACE < RING_TIMEOUT
    doorbell = DispatcherDoorbell(await dead_client(), "nowhere", DispatcherInput())
    await doorbell.hand_over(uuid.uuid4())
    bell = doorbell._bell
    assert bell is not None and not bell.done()
    await doorbell.aclose()
    assert bell.done()


async def test_the_lifetime_closes_the_doorbell_whatever_ends_the_run() -> None:
    doorbell = DispatcherDoorbell(await dead_client(), "nowhere", DispatcherInput())

    async def run() -> None:
        async with doorbell.lifetime():
            await doorbell.hand_over(uuid.uuid4())
            raise RuntimeError("the worker failed")

    with pytest.raises(RuntimeError):
        await run()
    assert doorbell._bell is not None and doorbell._bell.done()


async def test_closing_an_idle_doorbell_is_a_no_op() -> None:
    doorbell = DispatcherDoorbell(await dead_client(), "nowhere", DispatcherInput())
    await doorbell.aclose()
    await doorbell.aclose()
    assert doorbell._bell is None
