"""Tables of the customer portal's sign-in: one-use email links and server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.core.orm import Base


class PortalLink(Base):
    """A sign-in link mailed to a customer: only the SHA-256 of its token is kept."""

    __tablename__ = "portal_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            ondelete="CASCADE",
        ),
    )

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    # A keyed digest of the address asked for (any case), never the address: the hourly count
    # and the voiding of older links go by it.
    email_key: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Set once: signed in with it, or replaced by a newer link.
    used_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]


class PortalSession(Base):
    """A customer's signed-in browser, bound to one tenant: only the cookie's SHA-256 is kept."""

    __tablename__ = "portal_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["customers.tenant_id", "customers.id"],
            ondelete="CASCADE",
        ),
    )

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
