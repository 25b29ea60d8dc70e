"""Shapes of agents and teams as services and the API exchange them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AssignmentMode(StrEnum):
    NONE = "none"
    ROUND_ROBIN = "round_robin"
    # The available member with the fewest tickets not yet resolved or closed.
    LEAST_LOADED = "least_loaded"


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    available: bool = True


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    available: bool | None = None


class AgentInfo(BaseModel):
    tenant_id: str
    email: str
    name: str | None
    available: bool


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    assignment_mode: AssignmentMode = AssignmentMode.NONE


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignment_mode: AssignmentMode


class TeamInfo(BaseModel):
    tenant_id: str
    name: str
    assignment_mode: AssignmentMode
    members: list[str]
