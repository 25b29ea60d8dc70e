"""The names other languages and tools call on Temporal: workflows, signals, queries, updates.

These strings are the public contract (DESIGN.md, "Public contracts"): workflow definitions, the
ports that start or signal them, the CLI, the demo and the chaos run all use these constants, so a
name is spelled once.
"""

from __future__ import annotations

from typing import Final

ONBOARDING_WORKFLOW: Final = "OnboardingWorkflow"
INSTALLATION_WORKFLOW: Final = "InstallationWorkflow"
ESCALATION_WORKFLOW: Final = "EscalationWorkflow"
RECONCILER_WORKFLOW: Final = "ReconcilerWorkflow"
DISPATCHER_WORKFLOW: Final = "NotificationDispatcherWorkflow"
MAIL_POLLER_WORKFLOW: Final = "MailPollerWorkflow"
OUTAGE_WORKFLOW: Final = "OutageWorkflow"

# MailPollerWorkflow's activity: one pass over every IMAP mailbox.
POLL_MAILBOXES_ACTIVITY: Final = "poll_mailboxes"

# EscalationWorkflow
TICKET_CHANGED_SIGNAL: Final = "ticket_changed"
SLA_STATE_QUERY: Final = "sla_state"

# InstallationWorkflow
INSTALLATION_STATE_QUERY: Final = "installation_state"
SCHEDULE_VISIT_UPDATE: Final = "schedule_visit"
COMPLETE_INSTALLATION_SIGNAL: Final = "complete_installation"
CANCEL_INSTALLATION_SIGNAL: Final = "cancel_installation"

# NotificationDispatcherWorkflow
NOTICES_QUEUED_SIGNAL: Final = "notices_queued"

# OutageWorkflow: a new update (or the resolution) was recorded; its activity pages through it.
OUTAGE_CHANGED_SIGNAL: Final = "outage_changed"
OUTAGE_PAGE_ACTIVITY: Final = "outage_page"

# The plugin's own workflows that create tickets for a tenant (and may upsert its customers).
INTAKE_WORKFLOWS: Final = frozenset({ONBOARDING_WORKFLOW, INSTALLATION_WORKFLOW})

WATCHER_PREFIX: Final = "escalation-"


def escalation_workflow_id(ticket_number: str) -> str:
    """The one watcher of a ticket is found by its number: `escalation-<ticket_number>`."""
    return f"{WATCHER_PREFIX}{ticket_number}"


def onboarding_workflow_id(tenant_id: str, customer_id: str) -> str:
    """One onboarding per customer: a rerun attaches to the running one."""
    return f"onboarding-{tenant_id}-{customer_id}"


def dispatcher_workflow_id(task_queue: str) -> str:
    """One notification dispatcher per task queue."""
    return f"notification-dispatcher-{task_queue}"


def mail_poller_workflow_id(task_queue: str) -> str:
    """One IMAP poller per task queue: it fetches every IMAP mailbox in turn."""
    return f"mail-poller-{task_queue}"


OUTAGE_PREFIX: Final = "outage-"


def outage_workflow_id(ticket_number: str) -> str:
    """One run per outage, found by its parent ticket's number: `outage-<ticket_number>`."""
    return f"{OUTAGE_PREFIX}{ticket_number}"
