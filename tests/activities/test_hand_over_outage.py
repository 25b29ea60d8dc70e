"""A database restart during the onboarding's notice hand-over (its local activity failing
until its retries run out) leaves the workflow completed with its ticket: the ticket and its
queued notice are committed, and the dispatcher's polling delivers it. This is how
chaos-onb-00173 failed: the hand-over's read ran outside the activity boundary, and the
workflow caught only ActivityError, which a local activity's failure is not."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.tickets import TicketActivities
from tests.temporal_support import seed_tenant
from ticketing.db.engine import make_engine, make_sessionmaker
from ticketing.notifications.mailer import Notifier
from ticketing.runtime.settings import Settings
from ticketing.temporal.schemas import OnboardingInput, TicketInfo
from workflows.onboarding import OnboardingWorkflow


async def test_onboarding_completes_when_the_hand_over_meets_a_missing_socket(
    dev: WorkflowEnvironment,
    committed: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    await seed_tenant(committed)
    queue = f"hand-over-{uuid.uuid4().hex[:8]}"
    # The hand-over reads through a server whose socket file is not there (as while
    # PostgreSQL restarts); the create before it reaches the database.
    empty = tmp_path / "no-socket-here"
    empty.mkdir()
    url = make_url(database_url)
    gone = url.set(host=None, query={**url.query, "host": str(empty)}).render_as_string(
        hide_password=False
    )
    gone_engine = make_engine(gone, Settings())
    up = TicketActivities(committed, client=dev.client, notifier=Notifier(), task_queue=queue)
    down = TicketActivities(
        make_sessionmaker(gone_engine), client=dev.client, notifier=Notifier(), task_queue=queue
    )
    try:
        async with Worker(
            dev.client,
            task_queue=queue,
            workflows=[OnboardingWorkflow],
            activities=[up.open_ticket, down.send_ticket_created],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            ticket = await dev.client.execute_workflow(
                "OnboardingWorkflow",
                OnboardingInput(tenant_id="acme", customer_id="1001", customer_email="n@e.test"),
                id=f"onboarding-{uuid.uuid4()}",
                task_queue=queue,
                result_type=TicketInfo,
            )
    finally:
        await gone_engine.dispose()
    assert ticket.ticket_number == "TKT-000001"
