"""The API keys table: only a hash of each key is stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base, enum_type


class KeyRole(StrEnum):
    """The roles a key can carry (a subset of principal roles: no customer, no system)."""

    PLATFORM = "platform"
    TENANT_ADMIN = "tenant_admin"
    TENANT_AGENT = "tenant_agent"
    PARTNER_AGENT = "partner_agent"
    INTEGRATION = "integration"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # sha256 of the whole key: the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, so an operator can tell keys apart in a listing.
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[KeyRole] = mapped_column(enum_type(KeyRole, 32))
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]
