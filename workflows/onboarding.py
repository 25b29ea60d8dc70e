"""OnboardingWorkflow: register the customer, open the onboarding ticket, tell the customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ticketing.temporal import names
    from ticketing.temporal.schemas import (
        MAX_DESCRIPTION,
        OnboardingInput,
        TicketInfo,
        TicketType,
    )
    from workflows.common import (
        open_customer_ticket,
        reject_bad_input,
    )

if TYPE_CHECKING:
    OnboardingInputArg = OnboardingInput
else:
    # The input arrives undecoded and is validated in run(): a payload the SDK's decoder
    # cannot parse then fails the workflow with InvalidInput instead of failing its task.
    from temporalio.common import RawValue as OnboardingInputArg


@workflow.defn(name=names.ONBOARDING_WORKFLOW)
class OnboardingWorkflow:
    @workflow.run
    async def run(self, input: OnboardingInputArg) -> TicketInfo:
        input = reject_bad_input(OnboardingInput, input)
        description = (
            f"Onboard {input.customer_name or input.customer_email} ({input.customer_id})."
        )
        if input.notes:
            description += f"\n\n{input.notes}"
        description = description[:MAX_DESCRIPTION]
        return await open_customer_ticket(
            tenant_id=input.tenant_id,
            customer_id=input.customer_id,
            customer_email=input.customer_email,
            customer_name=input.customer_name,
            title="New Customer Onboarding",
            description=description,
            priority=input.priority,
            assigned_team=input.assigned_team,
            ticket_type=TicketType.GENERAL_INQUIRY,
            idempotency_key=input.idempotency_key
            or f"onboarding:{input.tenant_id}:{input.customer_id}",
        )
