"""/api/v1/chat: status cards for the ticket numbers a verified chat customer typed, and chat
tickets and replies, for integration keys only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ticketing.auth.chat_identity import ChatIntegration, find_integration, verify_customer
from ticketing.auth.principal import Principal
from ticketing.auth.signed_links import TrackingLinks
from ticketing.core.enums import Channel
from ticketing.core.errors import Forbidden
from ticketing.core.fields import Title, no_nul
from ticketing.runtime.settings import Settings
from ticketing.tickets.chat import ChatCard, ChatCards, card, first_line_title, lookup_cards
from ticketing.tickets.creation import DoorRules
from ticketing.tickets.schemas import CreateTicketRequest
from ticketing.web.deps import Ports, bearer, ticket_flows, unauthorized
from ticketing.web.routing import api_router
from ticketing.web.tracking import TrackingConfig

router = api_router("/api/v1/chat", "chat")
ChatText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(no_nul)]
ChatMessage = Annotated[str, Field(min_length=1, max_length=20_000), AfterValidator(no_nul)]


class ChatIdentity(BaseModel):
    """The customer as the chat platform verified them: `customer_signature` is
    hex(HMAC-SHA256(the key's identity_secret, customer_id)), computed on the integrator's
    server."""

    # Not stripped: the signature covers the customer id exactly as sent.
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=64)
    customer_signature: str = Field(min_length=1, max_length=128)


class ChatLookup(ChatIdentity):
    text: ChatText


class ChatTicket(ChatIdentity):
    title: Title | None = None
    message: ChatMessage


class ChatReply(ChatIdentity):
    ticket_number: str = Field(min_length=1, max_length=64, examples=["TKT-000123"])
    message: ChatMessage


async def chat_integration(
    ports: Ports,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ChatIntegration:
    """The integration key of the request; 401 for none or an unknown or revoked key, 403 for
    a key of any other role."""
    if credentials is None:
        raise unauthorized("authorization: send `Authorization: Bearer <API key>`")
    async with ports.sessions() as session:
        known, integration = await find_integration(session, credentials.credentials)
    if not known:
        raise unauthorized("authorization: unknown or revoked API key")
    if integration is None:
        raise Forbidden("use the chat API (integration keys only)")
    return integration


Integration = Annotated[ChatIntegration, Depends(chat_integration)]


def identity_secret_source(request: Request) -> bytes | None:
    """The server secret identity secrets derive from: the one the app's tracking links are
    signed with (None when the app runs without it)."""
    tracking: TrackingConfig | None = getattr(request.app.state, "tracking", None)
    return None if tracking is None else tracking.tokens.secret


def _links(request: Request) -> TrackingLinks | None:
    tracking: TrackingConfig | None = getattr(request.app.state, "tracking", None)
    if tracking is None:
        return None
    settings = Settings()
    lifetime = timedelta(days=settings.tracking_link_days)
    return TrackingLinks(tracking.tokens, settings.public_url.rstrip("/"), lifetime)


def _customer(request: Request, integration: ChatIntegration, body: ChatIdentity) -> Principal:
    secret = identity_secret_source(request)
    if secret is None:
        raise HTTPException(503, "chat: the server has no TICKETING_SECRET_KEY to verify with")
    return verify_customer(secret, integration, body.customer_id, body.customer_signature)


@router.post("/lookup", summary="Status cards for the customer's own ticket numbers in the text")
async def lookup(
    integration: Integration, body: ChatLookup, request: Request, ports: Ports
) -> ChatCards:
    """One card per distinct `TKT-` number in `text` (at most 10, in order) that belongs to
    the verified customer; any other number is simply absent."""
    customer = _customer(request, integration, body)
    links = _links(request)
    async with ports.sessions() as session:
        return await lookup_cards(session, customer, body.text, links.url if links else None)


@router.post("/tickets", status_code=201, summary="Open a chat ticket for the customer")
async def open_ticket(
    integration: Integration,
    body: ChatTicket,
    request: Request,
    ports: Ports,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=120,
            description="A retry with the same key and body (for the same customer) returns "
            "the same ticket (201 again); the key with another body is refused (422).",
        ),
    ] = None,
) -> ChatCard:
    customer = _customer(request, integration, body)
    assert customer.customer_id is not None
    # Keys are unique per tenant: scoping them to the customer keeps one customer's retry from
    # ever meeting another's ticket.
    key = f"chat:{customer.customer_id}:{idempotency_key}" if idempotency_key else None
    ticket = await ticket_flows(ports, customer).create(
        CreateTicketRequest(
            title=body.title or first_line_title(body.message),
            description=body.message,
            customer_id=customer.customer_id,
            channel=Channel.CHAT,
            idempotency_key=key,
        ),
        # A chat customer's key judges the request; the team rule has nothing to judge.
        rules=DoorRules(same_request=True),
    )
    links = _links(request)
    async with ports.sessions() as session:
        return await card(session, customer, ticket, links.url if links else None)


@router.post("/messages", status_code=201, summary="Add the customer's reply to their ticket")
async def add_reply(
    integration: Integration, body: ChatReply, request: Request, ports: Ports
) -> ChatCard:
    """A customer reply (moves the SLA as any customer reply does); another customer's ticket
    is not found, exactly like a missing one."""
    customer = _customer(request, integration, body)
    ticket = await ticket_flows(ports, customer).reply(body.ticket_number, body=body.message)
    links = _links(request)
    async with ports.sessions() as session:
        return await card(session, customer, ticket, links.url if links else None)
