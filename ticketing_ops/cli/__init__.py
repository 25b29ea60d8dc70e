"""`ticketing`, the operator CLI: builds `app` (the console script) from one module per group."""

# The contract every verb keeps: --json prints exactly one JSON object; errors are one line on
# stderr (`error: <message>`, or `{"error": {...}}` on stdout with --json) and exit code 2, with
# no traceback for bad input, unknown tickets, rejected updates or unreachable servers.

from __future__ import annotations

import warnings

import typer

from ticketing_ops.cli.agents import agent_app
from ticketing_ops.cli.apikeys import apikey_app
from ticketing_ops.cli.errors import CliError, to_cli_error
from ticketing_ops.cli.mail import mail_app, mailbox_app
from ticketing_ops.cli.onboarding import (
    install,
    installation_app,
    onboard,
    wait_installation_ticket,
)
from ticketing_ops.cli.outages import customer_app, outage_app
from ticketing_ops.cli.output import OneLineErrors, fail, plain_text, run, user_text, warn
from ticketing_ops.cli.sla import sla_app
from ticketing_ops.cli.stack import api, demo, dev, migrate, worker
from ticketing_ops.cli.tenants import partner_app, tenant_app
from ticketing_ops.cli.ticket_changes import ticket_merge, ticket_type
from ticketing_ops.cli.tickets import event_details, ticket_app, tickets_app

# temporalio's env config asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR
# is unset (containers, CI); one warning per verb drowns the one-line output.
warnings.filterwarnings("ignore", module="platformdirs")

__all__ = [
    "CliError",
    "app",
    "event_details",
    "fail",
    "plain_text",
    "run",
    "ticket_merge",
    "ticket_type",
    "to_cli_error",
    "user_text",
    "wait_installation_ticket",
    "warn",
]

app = typer.Typer(
    cls=OneLineErrors,
    name="ticketing",
    help="Temporal-native ticketing: dev stack, worker, tenants, workflows and tickets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(partner_app, name="partner")
app.add_typer(sla_app, name="sla")
app.add_typer(installation_app, name="installation")
app.add_typer(ticket_app, name="ticket")
app.add_typer(tickets_app, name="tickets")
app.add_typer(apikey_app, name="apikey")
app.add_typer(agent_app, name="agent")
app.add_typer(mailbox_app, name="mailbox")
app.add_typer(mail_app, name="mail")
app.add_typer(outage_app, name="outage")
app.add_typer(customer_app, name="customer")
for command in (dev, demo, worker, api, migrate, onboard, install):
    app.command()(command)

# Said in every verb's --help: which verbs leave the embedded PostgreSQL running.
EMBEDDED_STAYS_UP = (
    "Without TICKETING_DATABASE_URL this starts the embedded PostgreSQL under TICKETING_HOME "
    "if it is not running, and leaves it running for the next command; Ctrl-C on `ticketing "
    "dev` (or the end of `ticketing demo`) stops it."
)
STACK_STOPS_IT = (
    "On the way out it stops what it started, in order: the worker and the API, the Temporal "
    "dev server, then the embedded PostgreSQL under TICKETING_HOME."
)


def _say_what_stays_up(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        stack_verb = info.callback in (dev, demo)
        info.epilog = info.epilog or (STACK_STOPS_IT if stack_verb else EMBEDDED_STAYS_UP)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _say_what_stays_up(group.typer_instance)


_say_what_stays_up(app)
