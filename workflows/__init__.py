"""Deterministic orchestration of tickets: onboarding, installation and SLA escalation."""

from __future__ import annotations

from typing import Any

__all__ = ["ALL_WORKFLOWS"]


def __getattr__(name: str) -> Any:
    # Lazy on purpose: the workflow sandbox re-imports this package for every workflow run it
    # creates, and eagerly importing all three workflow modules here cost a quarter of the
    # worker's CPU per onboarding (bench/workflow_path.py profile).
    if name == "ALL_WORKFLOWS":
        from workflows.dispatcher import DispatcherWorkflow
        from workflows.escalation import EscalationWorkflow
        from workflows.installation import InstallationWorkflow
        from workflows.mail_poller import MailPollerWorkflow
        from workflows.onboarding import OnboardingWorkflow
        from workflows.outage import OutageWorkflow
        from workflows.reconciler import ReconcilerWorkflow

        return [
            OnboardingWorkflow,
            InstallationWorkflow,
            EscalationWorkflow,
            ReconcilerWorkflow,
            DispatcherWorkflow,
            MailPollerWorkflow,
            OutageWorkflow,
        ]
    raise AttributeError(f"module 'workflows' has no attribute {name!r}")
