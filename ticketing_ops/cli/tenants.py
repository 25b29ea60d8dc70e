"""`ticketing tenant add` and `ticketing partner add`."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import (
    Contract,
    Email,
    Identifier,
    RegisterTenantInput,
    ShortText,
    parse,
)
from ticketing_ops.cli.context import OPERATOR, database
from ticketing_ops.cli.output import JSON_OPTION, out, run, user_text, warn
from ticketing_ops.cli.sla import PolicyWatchers, sla_flows

tenant_app = typer.Typer(help="Tenants (ISPs, service platforms).", no_args_is_help=True)
partner_app = typer.Typer(
    help="Partners (the escalation level above a tenant).", no_args_is_help=True
)


class PartnerInput(Contract):
    partner_id: Identifier
    name: ShortText
    email: Email | None = None


@partner_app.command("add")
def partner_add(
    partner_id: str = typer.Argument(..., help="Partner id (letters, digits, _ . : -)."),
    name: str = typer.Option(None, help="Display name (defaults to the id)."),
    email: str = typer.Option(None, help="Escalation email."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create or update a partner."""
    from ticketing.tenants.service import TenantService

    async def action() -> dict[str, Any]:
        data = parse(
            PartnerInput, {"partner_id": partner_id, "name": name or partner_id, "email": email}
        )
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            await TenantService(s, OPERATOR).register_partner(
                data.partner_id, name=data.name, email=data.email
            )
        return data.model_dump(mode="json")

    run(
        json_out,
        action,
        lambda r: out().print(
            Text.assemble("partner ", user_text(r["partner_id"], style="bold"), " saved")
        ),
    )


PUBLIC_TAG_OPTION = typer.Option(
    [],
    "--public-tag",
    help="An outage tag /status may show (exact, or a prefix ending in ':'); repeat it; "
    "replaces the set.",
)


@tenant_app.command("add")
def tenant_add(
    tenant_id: str = typer.Argument(..., help="Tenant id (letters, digits, _ . : -)."),
    name: str = typer.Option(None, help="Display name (defaults to the id)."),
    partner: str = typer.Option(None, "--partner", help="Partner id (escalation level 2)."),
    timezone: str = typer.Option(None, help="IANA time zone of the business calendar."),
    support_email: str = typer.Option(None, help="Where tenant-level notifications go."),
    public_tag: list[str] = PUBLIC_TAG_OPTION,
    demo_sla: bool = typer.Option(
        False, "--demo-sla", help="SLA targets in seconds (urgent 10s/30s) for demos."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create or update a tenant (idempotent)."""
    from ticketing.sla import demo_policy
    from ticketing.tenants.flows import TenantFlows

    settings = Settings()

    async def action() -> dict[str, Any]:
        data = parse(
            RegisterTenantInput,
            {
                "tenant_id": tenant_id,
                "name": name,
                "partner_id": partner,
                "timezone": timezone,
                "support_email": support_email,
                "public_tags": public_tag or None,
            },
        )
        # A new zone or policy moves the open tickets' due dates: the flow re-targets them and
        # wakes their watchers (Temporal out of reach is a warning; the reconciler repairs it).
        watchers = PolicyWatchers(settings)
        async with sla_flows(settings, data.tenant_id, watchers, OPERATOR) as sla:
            flows = TenantFlows(sla.sessions, OPERATOR, watchers=watchers, notices=sla.notices)
            done = await flows.register_tenant(
                data, stored_policy=demo_policy() if demo_sla else None
            )
        saved: dict[str, Any] = {
            "tenant_id": done.tenant.tenant_id,
            "name": done.tenant.name,
            "partner_id": done.tenant.partner_id,
            "support_email": done.tenant.support_email,
            "public_tags": done.tenant.public_tags,
            "demo_sla": demo_sla,
        }
        if data.timezone is not None or demo_sla:
            saved["retargeted"] = done.retargeted
            saved["warning"] = watchers.warning
        return saved

    def render(r: dict[str, Any]) -> None:
        line = Text.assemble("tenant ", user_text(r["tenant_id"], style="bold"), " saved")
        if r["partner_id"]:
            line.append_text(Text.assemble(" (partner ", user_text(r["partner_id"]), ")"))
        if r["demo_sla"]:
            line.append(" with the demo SLA")
        out().print(line)
        if r.get("warning"):
            warn(f"the SLA watchers were not notified: {r['warning']}", json_out)

    run(json_out, action, render)
