"""Chat identity verification: an integration key's identity secret and customer signatures."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth import repository as repo
from ticketing.auth.apikeys import KEY_PREFIX, hash_key
from ticketing.auth.models import KeyRole
from ticketing.auth.principal import Principal
from ticketing.core.errors import Forbidden, InvalidCustomerId, TicketingError
from ticketing.core.fields import normalize_customer_id
from ticketing.db.rls import bind_system

_PURPOSE = b"chat-identity:"
MAX_SIGNATURE = 128


class BadCustomerSignature(Forbidden):
    """The chat platform's signature of the customer id does not verify (HTTP 403)."""

    def __init__(self) -> None:
        TicketingError.__init__(
            self,
            "customer_signature: does not verify for this customer_id and key",
            field="customer_signature",
        )


@dataclass(frozen=True)
class ChatIntegration:
    """An active integration key: its id (what its identity secret derives from) and tenant."""

    key_id: uuid.UUID
    tenant_id: str

    def customer(self, customer_id: str) -> Principal:
        """The customer a verified signature speaks for, in this key's tenant only."""
        return Principal.customer(self.tenant_id, customer_id, name=f"chat:{customer_id}")


async def find_integration(
    session: AsyncSession, presented: str
) -> tuple[bool, ChatIntegration | None]:
    """(whether the key is an active key at all, the integration it is if its role is one)."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return False, None
    # Before any principal exists: the one row whose hash matches, under an explicit scope.
    bind_system(session)
    found = await repo.find_active_key(session, hash_key(presented))
    if found is None:
        return False, None
    key_id, role, tenant_id = found
    if role is not KeyRole.INTEGRATION or tenant_id is None:
        return True, None
    return True, ChatIntegration(key_id, tenant_id)


def identity_secret(server_secret: bytes, key_id: uuid.UUID) -> str:
    """The secret an integrator signs customer ids with: HMAC-SHA256(server secret,
    "chat-identity:" + key id), as hex. Derived, so revoking the key retires it."""
    return hmac.new(server_secret, _PURPOSE + str(key_id).encode(), hashlib.sha256).hexdigest()


def customer_signature(secret: str, customer_id: str) -> str:
    """hex(HMAC-SHA256(identity secret as text, customer id)), as the integrator computes it
    (`printf %s ID | openssl dgst -sha256 -hmac SECRET`)."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def verify_customer(
    server_secret: bytes, integration: ChatIntegration, customer_id: str, signature: str
) -> Principal:
    """The customer Principal if `signature` signs `customer_id` under the key's identity
    secret; the same refusal whether or not such a customer exists (nothing is looked up).

    Only the canonical form of an id is accepted (an integer's digits without sign, spaces or
    leading zeros; a UUID in lower case with hyphens), and refused before the signature is
    checked: what is signed is exactly the id the customer becomes, so a signature over
    "042" or " 42" never speaks for customer 42."""
    try:
        canonical = normalize_customer_id(customer_id)
    except ValueError as error:
        raise InvalidCustomerId("customer_id", customer_id, str(error)) from None
    if canonical != customer_id:
        raise InvalidCustomerId(
            "customer_id", customer_id, f"must be sent in canonical form ({canonical!r})"
        )
    expected = customer_signature(identity_secret(server_secret, integration.key_id), customer_id)
    given = signature.strip().lower()[:MAX_SIGNATURE]
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise BadCustomerSignature()
    return integration.customer(canonical)
