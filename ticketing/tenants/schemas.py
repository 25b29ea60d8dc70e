"""Inputs for registering tenants and customers."""

from __future__ import annotations

from ticketing.core.fields import (
    Contract,
    CustomerId,
    Email,
    Identifier,
    Name,
    ShortText,
    Tags,
)
from ticketing.sla.policy_document import SlaPolicyDocument


class UpsertCustomerInput(Contract):
    tenant_id: Identifier
    customer_id: CustomerId
    email: Email | None = None
    name: Name | None = None
    # The customer's plan (tier) for SLA rules; None keeps the one stored.
    plan: ShortText | None = None


class RegisterTenantInput(Contract):
    tenant_id: Identifier
    name: ShortText | None = None
    partner_id: Identifier | None = None
    timezone: ShortText | None = None
    support_email: Email | None = None
    # The tenant's SLA policy document (as `ticketing sla set` takes it); None keeps the policy.
    sla_policy: SlaPolicyDocument | None = None
    # Which outage tags the public status page shows (exact tags, or prefixes ending in ':');
    # replaces the set, None keeps it.
    public_tags: Tags | None = None
