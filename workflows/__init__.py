"""Deterministic orchestration of tickets: onboarding, installation and SLA escalation."""

from workflows.escalation import EscalationWorkflow
from workflows.installation import InstallationWorkflow
from workflows.onboarding import OnboardingWorkflow

ALL_WORKFLOWS = [OnboardingWorkflow, InstallationWorkflow, EscalationWorkflow]

__all__ = ["ALL_WORKFLOWS", "EscalationWorkflow", "InstallationWorkflow", "OnboardingWorkflow"]
