"""Agents and teams of a tenant, and how a team hands new tickets to its agents."""
