"""`ticketing apikey create|revoke|list`: keys for the HTTP API, shown once, stored hashed."""

from __future__ import annotations

import uuid
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from ticketing.auth.models import KeyRole
from ticketing.core.errors import InvalidInput
from ticketing.runtime.settings import Settings
from ticketing_ops.cli.context import OPERATOR, database, operator
from ticketing_ops.cli.output import JSON_OPTION, out, run, user_text

apikey_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
TENANT_ROLES = {
    "agent": KeyRole.TENANT_AGENT,
    "admin": KeyRole.TENANT_ADMIN,
    "integration": KeyRole.INTEGRATION,
}


def key_role(platform: bool, tenant: str | None, partner: str | None, role: str | None) -> KeyRole:
    """The role the options ask for: exactly one of --platform, --tenant and --partner."""
    if sum((platform, tenant is not None, partner is not None)) != 1:
        raise InvalidInput("scope", None, "give exactly one of --platform, --tenant, --partner")
    if platform or partner is not None:
        if role is not None:
            raise InvalidInput("role", role, "only a --tenant key takes a role")
        return KeyRole.PLATFORM if platform else KeyRole.PARTNER_AGENT
    try:
        return TENANT_ROLES[(role or "agent").strip().lower()]
    except KeyError:
        raise InvalidInput("role", role, "must be agent, admin or integration") from None


def chat_identity_secret(key_id: uuid.UUID) -> str | None:
    """The secret an integration signs its chat customers' ids with (None without a server
    secret key: chat identity cannot be verified then)."""
    from ticketing.auth.chat_identity import identity_secret
    from ticketing.auth.signed_links import MissingSecretKey, secret_key

    try:
        return identity_secret(secret_key(Settings()), key_id)
    except MissingSecretKey:
        return None


@apikey_app.command("create")
def apikey_create(
    tenant: str = typer.Option(None, "--tenant", help="A key of this tenant."),
    role: str = typer.Option(None, "--role", help="agent (default), admin or integration."),
    partner: str = typer.Option(None, "--partner", help="A partner agent's key."),
    platform: bool = typer.Option(False, "--platform", help="A platform key (everything)."),
    name: str = typer.Option(None, "--name", help="Who holds it; recorded as the actor."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Issue a key; it is printed once and only its hash is kept."""
    from ticketing.auth.apikeys import ApiKeyService

    async def action() -> dict[str, Any]:
        chosen = key_role(platform, tenant, partner, role)
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            issued = await ApiKeyService(s, OPERATOR).issue(
                chosen, tenant_id=tenant, partner_id=partner, name=name
            )
        shown = issued.model_dump(mode="json")
        if chosen is KeyRole.INTEGRATION:
            shown["identity_secret"] = chat_identity_secret(issued.key_id)
        return shown

    def render(r: dict[str, Any]) -> None:
        console = out()
        console.print(user_text(r["key"]))
        if r.get("identity_secret"):
            console.print(Text.assemble("identity secret ", user_text(r["identity_secret"])))
        scope = r["tenant_id"] or r["partner_id"] or "platform"
        console.print(
            Text.assemble(
                ("shown once: ", "yellow"),
                "key ",
                user_text(r["key_id"]),
                f" ({r['role']}, ",
                user_text(scope),
                ")",
            )
        )

    run(json_out, action, render)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str = typer.Argument(..., help="The key_id shown by create or list."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    from ticketing.auth.apikeys import ApiKeyService

    async def action() -> dict[str, Any]:
        try:
            parsed = uuid.UUID(key_id)
        except ValueError:
            raise InvalidInput("key_id", key_id, "is not a key id (a UUID)") from None
        async with database(Settings()) as sessions, sessions() as s, s.begin():
            info = await ApiKeyService(s, OPERATOR).revoke(parsed)
        return info.model_dump(mode="json")

    run(
        json_out,
        action,
        lambda r: out().print(Text.assemble("key ", user_text(r["key_id"]), " revoked")),
    )


@apikey_app.command("list")
def apikey_list(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant's keys."),
    revoked: bool = typer.Option(False, "--revoked", help="Include revoked keys."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Keys with their role and scope (never the keys themselves)."""
    from ticketing.auth.apikeys import ApiKeyService

    async def action() -> dict[str, Any]:
        async with database(Settings()) as sessions, sessions() as s:
            keys = await ApiKeyService(s, operator(tenant)).list_keys(include_revoked=revoked)
        return {"keys": [k.model_dump(mode="json") for k in keys]}

    def render(r: dict[str, Any]) -> None:
        table = Table("key_id", "prefix", "role", "scope", "name", "created", "revoked")
        for k in r["keys"]:
            table.add_row(
                *(
                    user_text("-" if value is None else value)
                    for value in (
                        k["key_id"],
                        k["prefix"],
                        k["role"],
                        k["tenant_id"] or k["partner_id"] or "platform",
                        k["name"],
                        k["created_at"],
                        k["revoked_at"],
                    )
                )
            )
        out().print(table)

    run(json_out, action, render)
