"""`ticketing agent add`: a desk login for an agent of a tenant, or for platform staff."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.text import Text

from ticketing.core.errors import InvalidInput
from ticketing.runtime.settings import Settings
from ticketing_ops.cli.context import OPERATOR, database
from ticketing_ops.cli.output import JSON_OPTION, out, run, user_text

agent_app = typer.Typer(help="Agents' logins for the agent desk (/desk).", no_args_is_help=True)
ROLES = ("agent", "admin")


def read_password(password_stdin: bool) -> str:
    """The first line on stdin (a trailing newline is not part of the password)."""
    if not password_stdin:
        raise InvalidInput("password", None, "give --password-stdin and the password on stdin")
    return sys.stdin.readline().rstrip("\r\n")


@agent_app.command("add")
def agent_add(
    email: str = typer.Argument(..., help="The agent's email: the sign-in name and assignee."),
    tenant: str = typer.Option(None, "--tenant", help="An agent of this tenant."),
    platform: bool = typer.Option(False, "--platform", help="Platform staff (every tenant)."),
    name: str = typer.Option(None, "--name", help="Shown in the desk."),
    role: str = typer.Option(None, "--role", help="agent (default) or admin; tenants only."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin (never an argument)."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a desk login; the password is argon2-hashed, never stored or shown."""
    from ticketing.teams.logins import LoginRole
    from ticketing.teams.signin import AgentLogins

    async def action() -> dict[str, Any]:
        if platform == (tenant is not None):
            raise InvalidInput("scope", None, "give exactly one of --tenant and --platform")
        if platform and role is not None:
            raise InvalidInput("role", role, "platform staff take no --role")
        chosen = (role or "agent").strip().lower()
        if chosen not in ROLES:
            raise InvalidInput("role", role, "must be agent or admin")
        password = read_password(password_stdin)
        login_role = LoginRole.PLATFORM if platform else LoginRole(chosen)
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            info = await AgentLogins(s, OPERATOR).add(
                email, password=password, tenant_id=tenant, role=login_role, name=name
            )
        return info.model_dump(mode="json")

    def render(r: dict[str, Any]) -> None:
        scope = r["tenant_id"] or "platform"
        out().print(
            Text.assemble(
                "agent ", user_text(r["email"]), f" ({r['role']}, ", user_text(scope), ") added"
            )
        )

    run(json_out, action, render)
