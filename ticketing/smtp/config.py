"""The intake's settings, from the environment (TICKETING_MAIL_*, TICKETING_ATTACHMENT_*)."""

from __future__ import annotations

from pathlib import Path

from ticketing.mail.flows import IntakeConfig
from ticketing.notifications.rendering import mail_domain
from ticketing.runtime.settings import Settings
from ticketing.tickets.attachments.store import AttachmentStores


def attachment_stores(settings: Settings) -> AttachmentStores:
    directory = settings.attachment_dir or Path(settings.home) / "attachments"
    return AttachmentStores.configured(settings.attachment_store, directory)


def intake_config(settings: Settings) -> IntakeConfig:
    domain = settings.mail_domain or settings.smtp_sender.rpartition("@")[2] or "localhost"
    return IntakeConfig(
        max_bytes=settings.mail_max_bytes,
        max_per_hour=settings.mail_max_per_hour,
        authserv_id=settings.mail_authserv_id,
        own_sender=settings.smtp_sender,
        mail_domain=mail_domain(domain),
        stores=attachment_stores(settings),
    )


def listen_address(settings: Settings) -> tuple[str, int]:
    """TICKETING_MAIL_LISTEN as (host, port)."""
    host, sep, port = settings.mail_listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"TICKETING_MAIL_LISTEN: expected host:port, got {settings.mail_listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
