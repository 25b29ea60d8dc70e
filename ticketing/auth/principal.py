"""Principals: who a service call acts for, and the scope that follows from it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from ticketing.core.enums import Actor
from ticketing.core.errors import NoPrincipal


class Role(StrEnum):
    PLATFORM = "platform"
    TENANT_ADMIN = "tenant_admin"
    TENANT_AGENT = "tenant_agent"
    PARTNER_AGENT = "partner_agent"
    CUSTOMER = "customer"
    # A workflow or integration of the tenant's own platform acting for that tenant (the public
    # `create_ticket` activity, the onboarding and installation workflows).
    INTEGRATION = "integration"
    # The watcher and the reconciler: scoped to the ticket they work on (or, for the
    # reconciler's sweep, explicitly to everything).
    SYSTEM = "system"


TENANT_ROLES = frozenset({Role.TENANT_ADMIN, Role.TENANT_AGENT, Role.INTEGRATION})


@dataclass(frozen=True)
class Principal:
    """Who is calling. Build one with the constructors below; there is no unscoped default."""

    role: Role
    tenant_id: str | None = None
    partner_id: str | None = None
    customer_id: str | None = None
    ticket_id: uuid.UUID | None = None
    # Recorded as the actor of events and messages (an agent's email, a workflow's id).
    name: str | None = None

    def __post_init__(self) -> None:
        if self.role in TENANT_ROLES and not self.tenant_id:
            raise ValueError(f"a {self.role} principal needs a tenant_id")
        if self.role is Role.PARTNER_AGENT and not self.partner_id:
            raise ValueError("a partner_agent principal needs a partner_id")
        if self.role is Role.CUSTOMER and not (self.tenant_id and self.customer_id):
            raise ValueError("a customer principal needs a tenant_id and a customer_id")

    @classmethod
    def platform(cls, name: str | None = None) -> Principal:
        return cls(Role.PLATFORM, name=name)

    @classmethod
    def tenant_admin(cls, tenant_id: str, name: str | None = None) -> Principal:
        return cls(Role.TENANT_ADMIN, tenant_id=tenant_id, name=name)

    @classmethod
    def tenant_agent(cls, tenant_id: str, name: str | None = None) -> Principal:
        return cls(Role.TENANT_AGENT, tenant_id=tenant_id, name=name)

    @classmethod
    def partner_agent(cls, partner_id: str, name: str | None = None) -> Principal:
        return cls(Role.PARTNER_AGENT, partner_id=partner_id, name=name)

    @classmethod
    def customer(cls, tenant_id: str, customer_id: str, name: str | None = None) -> Principal:
        return cls(Role.CUSTOMER, tenant_id=tenant_id, customer_id=customer_id, name=name)

    @classmethod
    def integration(cls, tenant_id: str, name: str | None = None) -> Principal:
        return cls(Role.INTEGRATION, tenant_id=tenant_id, name=name)

    @classmethod
    def watcher(cls, ticket_id: uuid.UUID) -> Principal:
        return cls(Role.SYSTEM, ticket_id=ticket_id, name="sla-watcher")

    @classmethod
    def reconciler(cls) -> Principal:
        return cls(Role.SYSTEM, name="reconciler")

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.PLATFORM or (self.role is Role.SYSTEM and self.ticket_id is None)

    @property
    def is_customer(self) -> bool:
        return self.role is Role.CUSTOMER

    @property
    def may_administer_tenants(self) -> bool:
        return self.role in (Role.PLATFORM, Role.TENANT_ADMIN)

    @property
    def acting_side(self) -> Actor:
        """The side of the ticket route this principal speaks for in messages and events."""
        if self.role is Role.CUSTOMER:
            return Actor.CUSTOMER
        if self.role is Role.PARTNER_AGENT:
            return Actor.PARTNER
        if self.role in (Role.PLATFORM, Role.SYSTEM):
            return Actor.PLATFORM
        return Actor.TENANT


def require_principal(principal: object, service: str) -> Principal:
    """Refuse to build a service without a Principal: there is no unscoped default."""
    if not isinstance(principal, Principal):
        raise NoPrincipal(service)
    return principal
