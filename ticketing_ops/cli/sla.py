"""`ticketing sla show|set`: a tenant's SLA policy as its JSON document."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from ticketing.auth.principal import Principal
from ticketing.core.errors import InvalidInput
from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import TicketInfo
from ticketing_ops.cli.after_commit import OperatorWatchers
from ticketing_ops.cli.context import database, operator, temporal
from ticketing_ops.cli.output import JSON_OPTION, out, run, user_text, warn

if TYPE_CHECKING:
    from temporalio.client import Client

    from ticketing.sla.flows import SlaFlows

sla_app = typer.Typer(
    help="SLA policies (targets, calendar, warnings, rules).", no_args_is_help=True
)
TENANT_OPTION = typer.Option(..., "--tenant", help="Tenant id.")


class PolicyWatchers(OperatorWatchers):
    """Wakes every re-targeted ticket's watcher on one connection; once Temporal is out of
    reach it stops trying (the reconciler repairs the rest) instead of timing out per ticket."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.client: Client | None = None
        self.woken = 0

    async def wake(self, ticket: TicketInfo) -> None:
        from ticketing.temporal.watchers import notify_ticket_changed
        from ticketing_ops.cli.errors import to_cli_error

        if self.warning is not None:
            return
        try:
            self.client = self.client or await temporal(self.settings)
            await notify_ticket_changed(self.client, ticket, self.settings.task_queue)
            self.woken += 1
        except Exception as exc:  # noqa: BLE001 - the policy is committed; see the class
            self.warning = to_cli_error(exc).message


@asynccontextmanager
async def sla_flows(
    settings: Settings, tenant: str, watchers: OperatorWatchers, principal: Principal | None = None
) -> AsyncIterator[SlaFlows]:
    from ticketing.notifications.mailer import Notifier
    from ticketing.notifications.service import DirectDelivery
    from ticketing.sla.flows import SlaFlows

    async with database(settings) as sessions:
        yield SlaFlows(
            sessions,
            principal or operator(tenant),
            notices=DirectDelivery(sessions, Notifier.from_settings(settings)),
            watchers=watchers,
        )


def read_document(source: str) -> str:
    """The document's text from a file, or from stdin for `-`."""
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("file", source, f"cannot be read ({exc.__class__.__name__})") from None


@sla_app.command("show")
def sla_show(tenant: str = TENANT_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Print the tenant's policy document (what `sla set` takes back)."""
    settings = Settings()

    async def action() -> dict[str, Any]:
        async with sla_flows(settings, tenant, PolicyWatchers(settings)) as flows:
            return (await flows.policy(tenant)).model_dump(mode="json")

    # JSON either way: the document is the output, one object on stdout.
    run(json_out, action, lambda r: typer.echo(json.dumps(r, indent=2)))


@sla_app.command("set")
def sla_set(
    source: str = typer.Argument("-", metavar="[FILE|-]", help="Policy document; - for stdin."),
    tenant: str = TENANT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Replace the tenant's policy; open tickets get the new due dates, watchers are woken."""
    from ticketing.sla import parse_policy_document

    settings = Settings()

    async def action() -> dict[str, Any]:
        document = parse_policy_document(read_document(source))
        watchers = PolicyWatchers(settings)
        async with sla_flows(settings, tenant, watchers) as flows:
            stored = await flows.set_policy(tenant, document)
        return {
            "tenant_id": tenant,
            "policy": stored.model_dump(mode="json"),
            "watchers_woken": watchers.woken,
            "watchers_notified": watchers.warning is None,
            "warning": watchers.warning,
        }

    def render(r: dict[str, Any]) -> None:
        out().print(
            Text.assemble("SLA policy of ", user_text(r["tenant_id"], style="bold"), " saved")
        )
        if r["warning"]:
            warn(f"the SLA watchers were not notified: {r['warning']}", json_out)

    run(json_out, action, render)
