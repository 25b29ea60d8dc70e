"""Outages from the network: Prometheus Alertmanager's webhook (payload version 4).

Each alert names its tag by a configured label (default `outage_tag`, whose value is the tag;
else the first of `olt`, `cabinet`, `postcode` as `name:value`). A firing alert joins the
active outage of its tag or declares one; a resolved alert resolves the outage once no other
alert that joined it still fires. Each alert's fingerprint with its status and `startsAt` is
recorded, so a redelivered webhook does nothing twice.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.core.fields import MAX_TITLE, invalid_input_from, network_tag
from ticketing.outages import alert_repository as alerts_repo
from ticketing.outages import repository as repo
from ticketing.outages.alert_repository import FIRING, RESOLVED
from ticketing.outages.flows import OutageFlows
from ticketing.outages.models import Outage, OutageAlert
from ticketing.outages.schemas import DeclareOutage, OutageRef, UpdateKind
from ticketing.outages.service import OutageService
from ticketing.sla.service import utcnow
from ticketing.tickets.duties import AfterCommit
from ticketing.tickets.numbering import format_ticket_number

DEFAULT_TAG_LABEL = "outage_tag"
FALLBACK_LABELS = ("olt", "cabinet", "postcode")
Text200 = Annotated[str, Field(max_length=200)]
LabelMap = Annotated[dict[str, Annotated[str, Field(max_length=2_000)]], Field(max_length=200)]


class Alert(BaseModel):
    """One alert of the payload (fields Alertmanager sends that we do not read are kept out)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: LabelMap = Field(default_factory=dict)
    annotations: LabelMap = Field(default_factory=dict)
    startsAt: Text200 = ""  # noqa: N815 - Alertmanager's own field names
    endsAt: Text200 = ""  # noqa: N815
    generatorURL: Annotated[str, Field(max_length=2_000)] = ""  # noqa: N815
    fingerprint: Annotated[str, Field(min_length=1, max_length=200)]


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body, version 4."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: Annotated[str, Field(max_length=2_000)] = ""  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: Text200 = ""
    groupLabels: LabelMap = Field(default_factory=dict)  # noqa: N815
    commonLabels: LabelMap = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: LabelMap = Field(default_factory=dict)  # noqa: N815
    externalURL: Annotated[str, Field(max_length=2_000)] = ""  # noqa: N815
    alerts: Annotated[list[Alert], Field(max_length=1_000)]


class AlertOutcome(StrEnum):
    DECLARED = "declared"  # a firing alert declared a new outage for its tag
    JOINED = "joined"  # a firing alert joined the tag's active outage
    RESOLVED = "resolved"  # a resolved alert resolved its outage (no other alert fires)
    HELD = "held"  # a resolved alert, but another alert of its outage still fires
    DUPLICATE = "duplicate"  # this fingerprint with this status was handled before
    IGNORED = "ignored"  # no tag label, a tag that is not one, or nothing known to resolve


class AlertResult(BaseModel):
    fingerprint: str
    status: str
    tag: str | None = None
    outcome: AlertOutcome
    outage: str | None = None
    reason: str | None = None


class AlertReport(BaseModel):
    alerts: list[AlertResult]


def alert_tag(labels: dict[str, str], label: str = DEFAULT_TAG_LABEL) -> str | None:
    """The alert's tag: the configured label's value, else the first of olt/cabinet/postcode
    as `name:value`; None when there is none."""
    if labels.get(label):
        return labels[label]
    for name in FALLBACK_LABELS:
        if labels.get(name):
            return f"{name}:{labels[name]}"
    return None


def alert_title(alert: Alert, tag: str) -> str:
    text = (
        alert.annotations.get("summary")
        or alert.annotations.get("description")
        or alert.labels.get("alertname")
        or f"Network alert on {tag}"
    )
    return " ".join(text.split())[:MAX_TITLE] or f"Network alert on {tag}"


class AlertFlows(OutageFlows):
    """The webhook's flow: one transaction per alert, serialised per tag."""

    async def receive(
        self, payload: AlertmanagerPayload, *, label: str = DEFAULT_TAG_LABEL
    ) -> AlertReport:
        tenant = self.principal.tenant_id or ""
        results: list[AlertResult] = []
        for alert in payload.alerts:
            tag = alert_tag(alert.labels, label)
            result = AlertResult(
                fingerprint=alert.fingerprint,
                status=alert.status,
                tag=tag,
                outcome=AlertOutcome.IGNORED,
            )
            if tag is None:
                result.reason = f"no `{label}` (nor olt, cabinet, postcode) label"
            elif (problem := _bad_tag(tag)) is not None:
                result.reason = f"tag: {problem}"
            else:
                result = await self._one(tenant, alert, tag)
            results.append(result)
        return AlertReport(alerts=results)

    async def _one(self, tenant: str, alert: Alert, tag: str) -> AlertResult:
        async def command(session: AsyncSession, duties: AfterCommit) -> AlertResult:
            await alerts_repo.lock_tag(session, tenant, tag)
            row = await alerts_repo.get_alert(session, tenant, alert.fingerprint)
            if alert.status == FIRING:
                return await self._firing(session, duties, tenant, alert, tag, row)
            return await self._resolved(session, duties, tenant, alert, tag, row)

        result = await self._committed(command)
        if result.outage and result.outcome in (
            AlertOutcome.DECLARED,
            AlertOutcome.RESOLVED,
        ):
            await self.runs.changed(OutageRef(tenant_id=tenant, ticket_number=result.outage))
        return result

    async def _firing(
        self,
        session: AsyncSession,
        duties: AfterCommit,
        tenant: str,
        alert: Alert,
        tag: str,
        row: OutageAlert | None,
    ) -> AlertResult:
        result = AlertResult(
            fingerprint=alert.fingerprint, status=alert.status, tag=tag, outcome=AlertOutcome.JOINED
        )
        if row is not None and row.status == FIRING and row.starts_at == alert.startsAt:
            outage = await alerts_repo.outage_by_id(session, row.outage_id)
            result.outcome = AlertOutcome.DUPLICATE
            result.outage = format_ticket_number(outage.number) if outage else None
            return result
        service = OutageService(session, self.principal)
        active = await _active_for_tag(session, tenant, tag)
        if active is None:
            title = alert_title(alert, tag)
            declared, new = await service.declare(
                tenant,
                DeclareOutage(
                    title=title,
                    description=(alert.annotations.get("description") or title)[:20_000],
                    tags=[tag],
                    idempotency_key=f"alertmanager:{alert.fingerprint}:{alert.startsAt}"[:200],
                ),
                utcnow(),
            )
            if new:
                duties.watch(declared)
            result.outcome = AlertOutcome.DECLARED
            outage_id, number = declared.ticket_id, declared.ticket_number
        else:
            outage_id, number = active.ticket_id, format_ticket_number(active.number)
        result.outage = number
        if row is None:
            session.add(
                OutageAlert(
                    tenant_id=tenant,
                    fingerprint=alert.fingerprint,
                    outage_id=outage_id,
                    tag=tag,
                    status=FIRING,
                    starts_at=alert.startsAt,
                    updated_at=utcnow(),
                )
            )
        else:
            row.outage_id, row.tag, row.status = outage_id, tag, FIRING
            row.starts_at, row.updated_at = alert.startsAt, utcnow()
        await session.flush()
        return result

    async def _resolved(
        self,
        session: AsyncSession,
        duties: AfterCommit,
        tenant: str,
        alert: Alert,
        tag: str,
        row: OutageAlert | None,
    ) -> AlertResult:
        result = AlertResult(
            fingerprint=alert.fingerprint, status=alert.status, tag=tag, outcome=AlertOutcome.HELD
        )
        if row is None:
            result.outcome, result.reason = AlertOutcome.IGNORED, "no firing alert known"
            return result
        outage = await alerts_repo.outage_by_id(session, row.outage_id)
        result.outage = format_ticket_number(outage.number) if outage else None
        if row.status == RESOLVED:
            result.outcome = AlertOutcome.DUPLICATE
            return result
        row.status, row.updated_at = RESOLVED, utcnow()
        await session.flush()
        if outage is None or not alerts_repo.is_active(outage):
            return result  # resolved by hand meanwhile: nothing more to do
        if await alerts_repo.others_firing(session, row.outage_id, tenant, alert.fingerprint):
            return result
        title = alert_title(alert, tag)
        await OutageService(session, self.principal).post_update(
            format_ticket_number(outage.number),
            f"Resolved: {title}",
            f"alertmanager:resolved:{alert.fingerprint}:{alert.startsAt}"[:200],
            utcnow(),
            kind=UpdateKind.RESOLUTION,
        )
        duties.wake(outage.ticket_id)
        result.outcome = AlertOutcome.RESOLVED
        return result


async def _active_for_tag(session: AsyncSession, tenant: str, tag: str) -> Outage | None:
    found = await repo.active_outages_for_tag(session, tenant, tag)
    return found[0] if found else None


def _bad_tag(tag: str) -> str | None:
    try:
        network_tag(tag)
    except ValueError as error:
        return str(error)
    return None


def parse_payload(data: object) -> AlertmanagerPayload:
    """The payload, or an InvalidInput naming the first bad field."""
    try:
        return AlertmanagerPayload.model_validate(data)
    except ValidationError as error:
        raise invalid_input_from(error) from None
