"""/api/v1/customers: register (or update) a customer of the key's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ticketing.tenants.service import TenantService
from ticketing.web.deps import Caller, Ports
from ticketing.web.routing import api_router
from ticketing.web.schemas import CustomerInfo, NewCustomer

router = api_router("/api/v1/customers", "customers")


@router.post("", status_code=201, summary="Register a customer of the key's tenant")
async def register_customer(
    body: NewCustomer,
    caller: Caller,
    ports: Ports,
    tenant_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Platform keys only: the tenant to register under.",
        ),
    ] = None,
) -> CustomerInfo:
    # A tenant key naming another tenant is refused by the service as not found.
    tenant = tenant_id if tenant_id is not None else caller.tenant_id or ""
    async with ports.sessions() as session, session.begin():
        customer = await TenantService(session, caller).upsert_customer(
            tenant_id=tenant, customer_id=body.customer_id, email=body.email, name=body.name
        )
        return CustomerInfo(
            customer_id=customer.id,
            tenant_id=customer.tenant_id,
            email=customer.email,
            name=customer.name,
        )
