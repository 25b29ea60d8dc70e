"""Activity options shared by the ticketing workflows."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.raw_input import decode
    from activities.tickets import NON_RETRYABLE_ERRORS, TicketActivities
    from ticketing.core.errors import TicketingError
    from ticketing.temporal.schemas import (
        CreateTicketRequest,
        OpenTicketInput,
        TicketInfo,
        UpsertCustomerInput,
    )
    from ticketing.temporal.watchers import search_attribute_updates

M = TypeVar("M", bound=BaseModel)

DB_ACTIVITY_TIMEOUT = timedelta(seconds=30)
NOTIFY_TIMEOUT = timedelta(seconds=60)

# Infrastructure failures (database restarting, deadlock) are retried with backoff for about
# a minute and a half, then fail the call: a bound, so a worker can always stop and a stuck
# call shows as a failure rather than as invisible local-activity retries. Bad input is not
# retried at all.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=12,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)
# Handing a notice to the dispatcher touches the database once and sends nothing.
HAND_OVER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE_ERRORS,
)


def reject_bad_input(model: type[M], data: object) -> M:
    """Validate a workflow input (raw or decoded) inside the workflow, failing it (not its
    task) on bad input."""
    try:
        return decode(model, data, "input")
    except TicketingError as error:
        raise ApplicationError(
            error.message, error.details(), type=type(error).__name__, non_retryable=True
        ) from None


def build(model: type[M], **fields: object) -> M:
    """Construct an activity input from workflow data without risking a workflow task failure.

    A value that passed the workflow's input validation can still fail a narrower field of the
    next request; that must fail the workflow with a typed error, not retry its task forever.
    """
    return reject_bad_input(model, fields)


async def open_customer_ticket(
    *,
    tenant_id: str,
    customer_id: str,
    customer_email: str | None,
    customer_name: str | None,
    **request: object,
) -> TicketInfo:
    """Upsert the customer and create its ticket (one local activity, one transaction), tag
    this workflow with the ticket's search attributes, and hand the customer's notice (with
    the ticket number) to the dispatcher.

    A local activity is one round trip fewer per ticket than a regular one; the public
    `create_ticket` activity stays available to other callers.
    """
    info = workflow.info()
    ticket: TicketInfo = await workflow.execute_local_activity_method(
        TicketActivities.open_ticket,
        build(
            OpenTicketInput,
            customer=build(
                UpsertCustomerInput,
                tenant_id=tenant_id,
                customer_id=customer_id,
                email=customer_email,
                name=customer_name,
            ),
            request=build(
                CreateTicketRequest,
                customer_id=customer_id,
                tenant_id=tenant_id,
                requester_email=customer_email,
                metadata={"workflow_id": info.workflow_id, "workflow_type": info.workflow_type},
                **request,
            ),
        ),
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
    )
    workflow.upsert_search_attributes(search_attribute_updates(ticket))
    try:
        await workflow.execute_local_activity_method(
            TicketActivities.send_ticket_created,
            ticket.ticket_id,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=HAND_OVER_RETRY,
        )
    except (ActivityError, ApplicationError):
        # The ticket exists and its notice is queued; the dispatcher's polling finds it.
        # A local activity's failure reaches the workflow as the ApplicationError itself,
        # not wrapped in an ActivityError: catching only the latter let a database restart
        # during the hand-over fail a workflow whose ticket was already made.
        workflow.logger.warning("notice hand-over failed; the dispatcher will find it")
    return ticket
