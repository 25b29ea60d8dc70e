"""/api/v1/partners and /api/v1/tenants: partners, tenants, their customers and SLA policies."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated

from fastapi import Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from ticketing.core.errors import InvalidCustomerId
from ticketing.core.fields import Contract, Email, Name, ShortText, Tags, normalize_customer_id
from ticketing.sla.flows import SlaFlows
from ticketing.sla.policy_document import SlaPolicyDocument, parse_policy_document
from ticketing.tenants.directory import (
    CustomerRecord,
    PartnerInfo,
    TenantDirectory,
    TenantInfo,
    customer_record,
)
from ticketing.tenants.flows import TenantFlows
from ticketing.tenants.schemas import RegisterTenantInput, UpsertCustomerInput
from ticketing.tenants.service import TenantService
from ticketing.web.deps import ApiPorts, Caller, Ports
from ticketing.web.query import QueryCheckedRoute
from ticketing.web.routing import api_router


class PolicyPathErrors(QueryCheckedRoute):
    """A refused policy document names its JSON path exactly as `ticketing sla set` does
    (`targets.low.first_response_seconds`, `calendar.hours.mon[0].start`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[object, object, Response]]:
        handler = super().get_route_handler()

        async def named(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                if request.method != "PUT":
                    raise
                # Raises InvalidInput naming the path; FastAPI refused it, so it is refused.
                parse_policy_document(await request.body())
                raise

        return named


router = api_router("/api/v1", "admin")
policy_router = api_router("/api/v1", "admin", PolicyPathErrors)
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
After = Annotated[str | None, Query(min_length=1, max_length=64, description="Page after this id.")]
Limit = Annotated[int, Query(ge=1, le=500)]


def customer_key(value: str) -> str:
    """The customer id of a path in its canonical form (`042` is customer 42)."""
    try:
        return normalize_customer_id(value)
    except ValueError as exc:
        raise InvalidCustomerId("customer_id", value, str(exc)) from None


class PartnerChange(Contract):
    name: Name
    email: Email | None = None


class TenantChange(Contract):
    """A new tenant (platform) or changed fields of an existing one; `partner_id` is the
    platform's to set."""

    name: Name | None = None
    partner_id: ShortText | None = None
    support_email: Email | None = None
    timezone: ShortText | None = None
    # Outage tags the public status page (/status) shows: exact tags (`olt:berlin-7`) or
    # prefixes ending in ':' (`postcode:`); replaces the set, [] clears it, absent keeps it.
    public_tags: Tags | None = None


class CustomerChange(Contract):
    email: Email | None = None
    name: Name | None = None
    plan: ShortText | None = None


@router.get("/partners", summary="Every partner (platform keys)")
async def list_partners(caller: Caller, ports: Ports) -> list[PartnerInfo]:
    async with ports.sessions() as session:
        return await TenantDirectory(session, caller).partners()


@router.put("/partners/{partner_id}", summary="Create or update a partner (platform keys)")
async def put_partner(
    partner_id: Id, body: PartnerChange, caller: Caller, ports: Ports
) -> PartnerInfo:
    async with ports.sessions() as session, session.begin():
        await TenantService(session, caller).register_partner(
            partner_id, name=body.name, email=body.email
        )
    return PartnerInfo(partner_id=partner_id, name=body.name, email=body.email)


@router.get("/tenants", summary="Tenants the key may see")
async def list_tenants(
    caller: Caller, ports: Ports, after: After = None, limit: Limit = 200
) -> list[TenantInfo]:
    async with ports.sessions() as session:
        return await TenantDirectory(session, caller).tenants(after=after, limit=limit)


@router.get("/tenants/{tenant_id}", summary="One tenant")
async def get_tenant(tenant_id: Id, caller: Caller, ports: Ports) -> TenantInfo:
    async with ports.sessions() as session:
        return await TenantDirectory(session, caller).tenant(tenant_id)


@router.put("/tenants/{tenant_id}", summary="Create (platform) or update a tenant")
async def put_tenant(tenant_id: Id, body: TenantChange, caller: Caller, ports: Ports) -> TenantInfo:
    change = RegisterTenantInput(tenant_id=tenant_id, **body.model_dump())
    flows = TenantFlows(ports.sessions, caller, watchers=ports.watchers, notices=ports.notices)
    return (await flows.register_tenant(change)).tenant


@router.get("/tenants/{tenant_id}/customers", summary="The tenant's customers")
async def list_customers(
    tenant_id: Id, caller: Caller, ports: Ports, after: After = None, limit: Limit = 200
) -> list[CustomerRecord]:
    async with ports.sessions() as session:
        return await TenantDirectory(session, caller).customers(tenant_id, after=after, limit=limit)


@router.get("/tenants/{tenant_id}/customers/{customer_id}", summary="One customer")
async def get_customer(
    tenant_id: Id, customer_id: Id, caller: Caller, ports: Ports
) -> CustomerRecord:
    async with ports.sessions() as session:
        return await TenantDirectory(session, caller).customer(tenant_id, customer_key(customer_id))


@router.put("/tenants/{tenant_id}/customers/{customer_id}", summary="Create or update a customer")
async def put_customer(
    tenant_id: Id, customer_id: Id, body: CustomerChange, caller: Caller, ports: Ports
) -> CustomerRecord:
    flows = TenantFlows(ports.sessions, caller, watchers=ports.watchers, notices=ports.notices)
    change = UpsertCustomerInput(
        tenant_id=tenant_id,
        customer_id=customer_key(customer_id),
        email=body.email,
        name=body.name,
        plan=body.plan,
    )
    return customer_record(await flows.upsert_customer(change))


def sla_flows(ports: ApiPorts, caller: Caller) -> SlaFlows:
    return SlaFlows(ports.sessions, caller, notices=ports.notices, watchers=ports.watchers)


@policy_router.get("/tenants/{tenant_id}/sla-policy", summary="The tenant's SLA policy")
async def get_policy(tenant_id: Id, caller: Caller, ports: Ports) -> SlaPolicyDocument:
    return await sla_flows(ports, caller).policy(tenant_id)


@policy_router.put(
    "/tenants/{tenant_id}/sla-policy",
    summary="Replace the SLA policy (the `ticketing sla set` document); open tickets re-targeted",
)
async def put_policy(
    tenant_id: Id, document: SlaPolicyDocument, caller: Caller, ports: Ports
) -> SlaPolicyDocument:
    return await sla_flows(ports, caller).set_policy(tenant_id, document)
