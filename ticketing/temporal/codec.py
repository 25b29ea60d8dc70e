"""AES-256-GCM payload codec: personal data reaches Temporal histories only encrypted."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from ticketing.runtime.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class PayloadKeyError(ValueError):
    """A payload key that is malformed, unknown, or does not open a payload."""


@dataclass(frozen=True)
class PayloadKey:
    """A 256-bit key and the id written next to every payload it encrypts."""

    key_id: str
    secret: bytes = dataclasses.field(repr=False)

    @classmethod
    def parse(cls, text: str, setting: str = "TICKETING_PAYLOAD_KEY") -> PayloadKey:
        """A key from its base64 text; its id is a digest, so rotating needs no naming scheme."""
        try:
            secret = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4),
                                      altchars=b"-_", validate=False)
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) != 32:
            raise PayloadKeyError(
                f"{setting}: must be 32 bytes in base64 (`openssl rand -base64 32`)"
            )
        digest = hashlib.sha256(b"ticketing-payload-key\0" + secret).hexdigest()
        return cls(key_id=digest[:16], secret=secret)

    @classmethod
    def generate(cls) -> PayloadKey:
        return cls.parse(base64.b64encode(os.urandom(32)).decode())


class EncryptionCodec(PayloadCodec):
    """Encrypts with the active key; decrypts with any key it knows, by the payload's key id."""

    def __init__(self, active: PayloadKey, old: Iterable[PayloadKey] = ()) -> None:
        self.active = active
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in (*old, active)}

    def encode_payload(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.active.key_id.encode()
        # The key id is authenticated data: a payload relabelled to another key fails to open.
        sealed = self._ciphers[self.active.key_id].encrypt(
            nonce, payload.SerializeToString(), key_id
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed
        )

    def decode_payload(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was switched on
        key_id = payload.metadata.get(KEY_ID_METADATA, b"")
        cipher = self._ciphers.get(key_id.decode(errors="replace"))
        if cipher is None:
            raise PayloadKeyError(
                f"payload encrypted with unknown key id {key_id.decode(errors='replace')!r}: "
                "add that key to TICKETING_PAYLOAD_OLD_KEYS"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id))
        except InvalidTag:
            raise PayloadKeyError(
                "payload does not open with its key: tampered or corrupt"
            ) from None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_payload(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_payload(payload) for payload in payloads]


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The codec TICKETING_PAYLOAD_KEY (and _OLD_KEYS) switch on, or None when unset."""
    if settings.payload_key is None:
        return None
    active = PayloadKey.parse(settings.payload_key.get_secret_value())
    old_text = settings.payload_old_keys.get_secret_value() if settings.payload_old_keys else ""
    old = [PayloadKey.parse(part, "TICKETING_PAYLOAD_OLD_KEYS")
           for part in old_text.split(",") if part.strip()]
    return EncryptionCodec(active, old)


def data_converter(settings: Settings) -> DataConverter:
    """The project's converter (pydantic JSON), encrypted when a payload key is configured."""
    codec = payload_codec(settings)
    if codec is None:
        return pydantic_data_converter
    # Failure messages and stack traces carry input values too (an invalid email, say).
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
