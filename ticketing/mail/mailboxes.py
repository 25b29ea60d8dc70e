"""Mailboxes: a tenant's inbound addresses, who may write to them, and how they are fetched."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.auth.principal import Principal, require_principal
from ticketing.core.errors import Forbidden, InvalidInput, TenantNotFound
from ticketing.core.fields import is_identifier
from ticketing.db.rls import bind_scope
from ticketing.mail import repository as repo
from ticketing.mail.models import Mailbox, SenderPolicy
from ticketing.tenants import repository as tenants_repo

_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


class MailboxInfo(BaseModel):
    address: str
    tenant_id: str
    senders: SenderPolicy
    domains: list[str]
    require_auth: bool
    # imap(s)://USER@HOST:PORT/FOLDER, never with a password; None: no IMAP fetch.
    imap: str | None


@dataclass(frozen=True)
class ImapAccount:
    """Where and as whom one mailbox is fetched."""

    secure: bool
    host: str
    port: int
    user: str
    folder: str
    password: str

    @property
    def url(self) -> str:
        scheme = "imaps" if self.secure else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str, password: str) -> ImapAccount:
    """`imaps://USER@HOST[:PORT]/FOLDER` (or `imap://`), the password given apart."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("imap", url, "is not an imap:// or imaps:// URL") from None
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise InvalidInput("imap", url, "must be imaps://USER@HOST[:PORT]/FOLDER")
    if parts.password is not None:
        raise InvalidInput("imap", url, "must not carry the password (--imap-password-stdin)")
    if not password:
        raise InvalidInput("imap_password", None, "is required with --imap (on stdin)")
    secure = parts.scheme == "imaps"
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapAccount(
        secure=secure,
        host=parts.hostname,
        port=port or (993 if secure else 143),
        user=unquote(parts.username),
        folder=folder,
        password=password,
    )


class PasswordBox:
    """IMAP passwords encrypted (Fernet) under a key derived from TICKETING_SECRET_KEY."""

    def __init__(self, secret: bytes) -> None:
        key = hmac.digest(secret, b"ticketing-imap-password", hashlib.sha256)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise InvalidInput(
                "imap_password", None, "cannot be decrypted: was TICKETING_SECRET_KEY changed?"
            ) from None


def normalize_address(address: str) -> str:
    value = address.strip().lower()
    local, at, domain = value.rpartition("@")
    if not (at and local and domain and "." in domain) or len(value) > 254:
        raise InvalidInput("address", address, "is not an email address")
    if any(c.isspace() or not c.isprintable() for c in value) or not value.isascii():
        raise InvalidInput("address", address, "is not a plain ASCII email address")
    return value


def normalize_domain(domain: str) -> str:
    import re

    value = domain.strip().lower().rstrip(".")
    if not re.fullmatch(rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+", value):
        raise InvalidInput("domain", domain, "is not a domain name")
    return value


def mailbox_info(row: Mailbox) -> MailboxInfo:
    return MailboxInfo(
        address=row.address,
        tenant_id=row.tenant_id,
        senders=SenderPolicy(row.senders),
        domains=list(row.domains),
        require_auth=row.require_auth,
        imap=row.imap_url,
    )


async def imap_accounts(
    session: AsyncSession, passwords: PasswordBox
) -> list[tuple[str, ImapAccount]]:
    """Every mailbox fetched over IMAP, with its password opened (`session`: system scope,
    the poller works for every tenant)."""
    found = []
    for row in await repo.imap_mailboxes(session):
        if row.imap_url and row.imap_password:
            account = parse_imap_url(row.imap_url, passwords.open(row.imap_password))
            found.append((row.address, account))
    return found


class MailboxService:
    """Mailboxes as a Principal may see and change them (a tenant admin: its own)."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = require_principal(principal, "MailboxService")
        bind_scope(session, self.principal)

    async def add(
        self,
        address: str,
        *,
        tenant_id: str,
        senders: SenderPolicy = SenderPolicy.CUSTOMERS,
        domains: list[str] | None = None,
        require_auth: bool = False,
        imap: ImapAccount | None = None,
        passwords: PasswordBox | None = None,
    ) -> MailboxInfo:
        """Register or update an inbound address; another tenant's address is refused."""
        if not self.principal.may_administer_tenants:
            raise Forbidden("register mailboxes")
        if not is_identifier(tenant_id):
            raise InvalidInput("tenant_id", tenant_id, "is not a tenant id")
        if self.principal.tenant_id is not None and self.principal.tenant_id != tenant_id:
            raise TenantNotFound(tenant_id)
        address = normalize_address(address)
        listed = sorted({normalize_domain(d) for d in domains or []})
        if senders is SenderPolicy.DOMAINS and not listed:
            raise InvalidInput("domain", None, "at least one --domain is needed with domains")
        if await tenants_repo.get_tenant(self.session, tenant_id) is None:
            raise TenantNotFound(tenant_id)
        sealed = None
        if imap is not None:
            if passwords is None:
                raise InvalidInput("imap_password", None, "cannot be stored without a secret key")
            sealed = passwords.seal(imap.password)
        values = {
            "tenant_id": tenant_id,
            "senders": senders.value,
            "domains": listed,
            "require_auth": require_auth,
            "imap_url": imap.url if imap else None,
            "imap_password": sealed,
        }
        stmt = (
            pg_insert(Mailbox)
            .values(address=address, created_at=datetime.now(UTC), **values)
            .on_conflict_do_update(
                index_elements=[Mailbox.address],
                set_=values,
                where=Mailbox.tenant_id == tenant_id,
            )
            .returning(Mailbox.address)
        )
        if (await self.session.execute(stmt)).scalar_one_or_none() is None:
            raise InvalidInput("address", address, "already belongs to another tenant")
        row = await repo.get_mailbox(self.session, address)
        assert row is not None
        await self.session.refresh(row)
        return mailbox_info(row)

    async def list(self, tenant_id: str | None = None) -> list[MailboxInfo]:
        return [mailbox_info(r) for r in await repo.list_mailboxes(self.session, tenant_id)]
