"""OnboardingWorkflow: register the customer, open the onboarding ticket, tell the customer."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.tickets import TicketActivities
    from activities.watchers import search_attribute_updates
    from ticketing.schemas import (
        MAX_DESCRIPTION,
        CreateTicketRequest,
        OnboardingInput,
        OpenTicketInput,
        TicketInfo,
        TicketType,
        UpsertCustomerInput,
    )
    from workflows.common import (
        DB_ACTIVITY_TIMEOUT,
        DB_RETRY,
        NOTIFY_TIMEOUT,
        build,
        reject_bad_input,
    )

LenientOnboardingInput = Annotated[OnboardingInput | Any, Field(union_mode="left_to_right")]


@workflow.defn(name="OnboardingWorkflow")
class OnboardingWorkflow:
    @workflow.run
    async def run(self, input: LenientOnboardingInput) -> TicketInfo:
        input = reject_bad_input(OnboardingInput, input)
        description = (
            f"Onboard {input.customer_name or input.customer_email} ({input.customer_id})."
        )
        if input.notes:
            description += f"\n\n{input.notes}"
        description = description[:MAX_DESCRIPTION]
        # Local activity: one round trip fewer per ticket than a regular activity; the
        # public `create_ticket` activity stays available to other callers.
        ticket: TicketInfo = await workflow.execute_local_activity_method(
            TicketActivities.open_ticket,
            build(
                OpenTicketInput,
                customer=build(
                    UpsertCustomerInput,
                    tenant_id=input.tenant_id,
                    customer_id=input.customer_id,
                    email=input.customer_email,
                    name=input.customer_name,
                ),
                request=build(
                    CreateTicketRequest,
                    title="New Customer Onboarding",
                    description=description,
                    customer_id=input.customer_id,
                    tenant_id=input.tenant_id,
                    priority=input.priority,
                    assigned_team=input.assigned_team,
                    ticket_type=TicketType.GENERAL_INQUIRY,
                    requester_email=input.customer_email,
                    idempotency_key=input.idempotency_key
                    or f"onboarding:{input.tenant_id}:{input.customer_id}",
                    metadata={
                        "workflow_id": workflow.info().workflow_id,
                        "workflow_type": "OnboardingWorkflow",
                    },
                ),
            ),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        workflow.upsert_search_attributes(search_attribute_updates(ticket))
        await workflow.execute_local_activity_method(
            TicketActivities.send_ticket_created,
            ticket.ticket_id,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        return ticket
