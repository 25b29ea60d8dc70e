"""Payload encryption: histories hold no plaintext personal data; the codec server decodes."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.temporal_support import dev_server, running_worker, seed_tenant
from ticketing.runtime.settings import Settings
from ticketing.temporal.codec import (
    ENCODING,
    EncryptionCodec,
    PayloadKey,
    PayloadKeyError,
    data_converter,
    payload_codec,
)
from ticketing.temporal.codec_server import CodecServer, build_server
from ticketing.temporal.schemas import OnboardingInput, TicketInfo
from ticketing.temporal.watchers import escalation_workflow_id

UI_ORIGIN = "http://localhost:8233"
SEARCH_ATTRIBUTE_EVENTS = (
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
)
EMAIL = "ada.secret@example.com"
NAME = "Ada Secretperson"


def key_text() -> str:
    return base64.b64encode(uuid.uuid4().bytes * 2).decode()


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_codec_encrypts_and_rotated_keys_still_decrypt() -> None:
    old, new = PayloadKey.parse(key_text()), PayloadKey.parse(key_text())
    before = EncryptionCodec(old)
    [sealed] = await before.encode([plain(EMAIL)])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == old.key_id.encode()
    assert EMAIL.encode() not in sealed.SerializeToString()
    after = EncryptionCodec(new, old=[old])
    assert await after.decode([sealed]) == [plain(EMAIL)]
    [resealed] = await after.encode([plain(EMAIL)])
    assert resealed.metadata["encryption-key-id"] == new.key_id.encode()
    assert await after.decode([plain("unencrypted")]) == [plain("unencrypted")]
    with pytest.raises(PayloadKeyError, match="unknown key id"):
        await before.decode([resealed])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadKeyError, match="tampered"):
        await after.decode([tampered])


def test_codec_is_switched_on_by_its_setting_only() -> None:
    assert payload_codec(Settings()) is None
    settings = Settings(
        payload_key=SecretStr(key_text()), payload_old_keys=SecretStr(f"{key_text()}, {key_text()}")
    )
    codec = payload_codec(settings)
    assert codec is not None and len(codec._ciphers) == 3
    assert isinstance(data_converter(settings).payload_codec, EncryptionCodec)
    assert data_converter(Settings()).payload_codec is None
    with pytest.raises(PayloadKeyError, match="TICKETING_PAYLOAD_KEY: must be 32 bytes"):
        payload_codec(Settings(payload_key=SecretStr("too-short")))


@pytest.fixture
def codec_server() -> Iterator[CodecServer]:
    settings = Settings(payload_key=SecretStr(key_text()))
    server = build_server(settings, "127.0.0.1", 0, [UI_ORIGIN])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def post(
    server: CodecServer, path: str, payloads: list[Payload], origin: str | None = UI_ORIGIN
) -> tuple[int, dict[str, str], bytes]:
    body = json_format.MessageToJson(Payloads(payloads=payloads)).encode()
    headers = {"Content-Type": "application/json", "X-Namespace": "default"}
    if origin:
        headers["Origin"] = origin
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def payloads_of(body: bytes) -> list[Payload]:
    return list(json_format.Parse(body, Payloads()).payloads)


def test_codec_server_round_trip_with_cors_for_the_ui(codec_server: CodecServer) -> None:
    status, headers, body = post(codec_server, "/encode", [plain(EMAIL)])
    assert status == 200 and headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    [sealed] = payloads_of(body)
    assert sealed.metadata["encoding"] == ENCODING and EMAIL.encode() not in body
    status, _, body = post(codec_server, "/default/decode", [sealed])
    assert status == 200 and payloads_of(body) == [plain(EMAIL)]

    preflight = urllib.request.Request(
        f"http://127.0.0.1:{codec_server.server_address[1]}/decode",
        method="OPTIONS",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    with urllib.request.urlopen(preflight, timeout=10) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
        assert "X-Namespace" in response.headers["Access-Control-Allow-Headers"]
    status, headers, _ = post(codec_server, "/decode", [sealed], origin="https://evil.test")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert post(codec_server, "/nothing", [sealed])[0] == 404
    status, _, body = post(
        codec_server,
        "/decode",
        [Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"nope"}, data=b"x" * 40)],
    )
    assert status == 400 and b"unknown key id" in body


async def test_histories_hold_no_plaintext_and_the_codec_server_opens_them(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings(payload_key=SecretStr(key_text()))
    async with dev_server(data_converter(settings)) as env:
        await seed_tenant(committed)
        async with running_worker(env.client, committed) as worker_settings:
            workflow_id = f"onboarding-{uuid.uuid4()}"
            ticket = await env.client.execute_workflow(
                "OnboardingWorkflow",
                OnboardingInput(
                    tenant_id="acme", customer_id="1001", customer_email=EMAIL, customer_name=NAME
                ),
                id=workflow_id,
                task_queue=worker_settings.task_queue,
                result_type=TicketInfo,
            )
            assert ticket.title == "New Customer Onboarding"  # decoded for the codec's owner
            raw = await Client.connect(
                env.client.service_client.config.target_host, namespace=env.client.namespace
            )
            histories = [
                await raw.get_workflow_handle(workflow_id).fetch_history(),
                await raw.get_workflow_handle(
                    escalation_workflow_id(ticket.ticket_number)
                ).fetch_history(),
            ]
    for history in histories:
        # Raw protobuf bytes: payload data appears there as stored, not base64 as in to_json().
        stored = b"".join(event.SerializeToString() for event in history.events)
        assert ENCODING in stored  # there are payloads, and they are encrypted
        for secret in (EMAIL, NAME, "New Customer Onboarding"):
            assert secret.encode() not in stored, secret
        # The tenant id stays readable only as a search attribute (the server must index it).
        for event in history.events:
            if b"acme" in event.SerializeToString():
                assert event.event_type in SEARCH_ATTRIBUTE_EVENTS, event
        started_input = history.events[0].workflow_execution_started_event_attributes.input
        assert started_input.payloads
        assert all(p.metadata["encoding"] == ENCODING for p in started_input.payloads)
    started = histories[0].events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    [sealed] = started.workflow_execution_started_event_attributes.input.payloads
    server = build_server(settings, "127.0.0.1", 0, [UI_ORIGIN])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, _, body = post(server, "/decode", [sealed])
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200
    [opened] = payloads_of(body)
    assert json.loads(opened.data)["customer_email"] == EMAIL
