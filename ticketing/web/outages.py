"""/api/v1/outages: declare, update, resolve and read outages; Alertmanager's webhook."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query
from pydantic import AwareDatetime, Field

from ticketing.auth.principal import Role
from ticketing.core.errors import Forbidden, InvalidInput
from ticketing.core.fields import Contract, Description, Tag, Title
from ticketing.outages.alerts import AlertFlows, AlertmanagerPayload, AlertReport
from ticketing.outages.schemas import (
    Body,
    DeclareOutage,
    NotifyMode,
    OutageDeclared,
    OutageDetail,
    OutagePage,
    OutageStatus,
    OutageUpdateInfo,
)
from ticketing.outages.service import OutageService
from ticketing.web.deps import Caller, Ports, outage_flows
from ticketing.web.routing import api_router

router = api_router("/api/v1/outages", "outages")
OutageNumber = Annotated[
    str, Path(min_length=1, max_length=64, description="The parent ticket's number (TKT-…).")
]
KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="A retry with the same key answers as the first did and sends nothing "
        "again.",
    ),
]
PlatformTenant = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="Platform keys only: the tenant."),
]


class NewOutage(Contract):
    title: Title
    description: Description = ""
    tags: Annotated[list[Tag], Field(min_length=1, max_length=100)]
    eta: AwareDatetime | None = None
    notify: NotifyMode = NotifyMode.AFFECTED


class OutageText(Contract):
    body: Body


@router.post(
    "",
    status_code=201,
    summary="Declare an outage on network tags: the parent ticket and how many it affects",
)
async def declare_outage(
    body: NewOutage,
    caller: Caller,
    ports: Ports,
    idempotency_key: KeyHeader = None,
    tenant_id: PlatformTenant = None,
) -> OutageDeclared:
    request = DeclareOutage(**body.model_dump(), idempotency_key=idempotency_key)
    return await outage_flows(ports, caller).declare(request, tenant_id=tenant_id)


@router.post(
    "/alertmanager",
    summary="Prometheus Alertmanager's webhook (payload version 4; integration keys only)",
)
async def alertmanager_webhook(
    payload: AlertmanagerPayload, caller: Caller, ports: Ports
) -> AlertReport:
    if caller.role is not Role.INTEGRATION:
        raise Forbidden("use the Alertmanager webhook (integration keys only)")
    flows = AlertFlows(
        ports.sessions, caller, watchers=ports.watchers, notices=ports.notices, runs=ports.outages
    )
    return await flows.receive(payload, label=ports.alert_label)


@router.get("", summary="Outages the key may see, newest first")
async def list_outages(
    caller: Caller,
    ports: Ports,
    status: OutageStatus | None = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    tenant_id: PlatformTenant = None,
) -> OutagePage:
    async with ports.sessions() as session:
        return await OutageService(session, caller).list(
            status=status, cursor=cursor, limit=limit, tenant_id=tenant_id
        )


@router.get("/{number}", summary="One outage with its linked tickets and updates")
async def show_outage(number: OutageNumber, caller: Caller, ports: Ports) -> OutageDetail:
    async with ports.sessions() as session:
        return await OutageService(session, caller).detail(number)


@router.post(
    "/{number}/updates",
    status_code=202,
    summary="Post an update to every affected (or linked) customer, one mail each",
)
async def post_update(
    number: OutageNumber,
    body: OutageText,
    caller: Caller,
    ports: Ports,
    idempotency_key: KeyHeader = None,
) -> OutageUpdateInfo:
    if idempotency_key is None:
        raise InvalidInput("Idempotency-Key", None, "is required")
    return await outage_flows(ports, caller).post_update(number, body.body, key=idempotency_key)


@router.post(
    "/{number}/resolve",
    status_code=202,
    summary="Resolve the outage and every linked ticket with this message",
)
async def resolve_outage(
    number: OutageNumber,
    body: OutageText,
    caller: Caller,
    ports: Ports,
    idempotency_key: KeyHeader = None,
) -> OutageUpdateInfo:
    return await outage_flows(ports, caller).resolve(number, body.body, key=idempotency_key)
