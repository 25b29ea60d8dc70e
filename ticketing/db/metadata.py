"""Every table of every domain, imported in one place so the metadata (and Alembic) sees all."""

from __future__ import annotations

from ticketing.auth.models import ApiKey
from ticketing.core.orm import NAMING_CONVENTION, Base, Timestamp
from ticketing.mail.models import InboundMail, Mailbox, TicketParticipant
from ticketing.notifications.models import Notification
from ticketing.outages.models import Outage, OutageUpdate
from ticketing.sla.models import SlaBreach
from ticketing.teams.logins import AgentLogin, DeskSession, LoginThrottle
from ticketing.teams.models import Agent, Team, TeamMember
from ticketing.tenants.models import Customer, Partner, Tenant
from ticketing.tenants.portal_models import PortalLink, PortalSession
from ticketing.tickets.attachments.models import Attachment, AttachmentBlob
from ticketing.tickets.models import Ticket, TicketCounter, TicketEvent, TicketMessage

__all__ = [
    "Agent",
    "AgentLogin",
    "ApiKey",
    "Attachment",
    "AttachmentBlob",
    "InboundMail",
    "Mailbox",
    "NAMING_CONVENTION",
    "Base",
    "Customer",
    "DeskSession",
    "LoginThrottle",
    "Notification",
    "Outage",
    "OutageUpdate",
    "Partner",
    "PortalLink",
    "PortalSession",
    "SlaBreach",
    "Team",
    "TeamMember",
    "Tenant",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketMessage",
    "TicketParticipant",
    "Timestamp",
]
