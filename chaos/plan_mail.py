"""The run's mail, fixed before it starts: new-ticket messages from registered customers, each
delivered by SMTP to `ticketing mail serve` or appended to a Dovecot mailbox the worker's IMAP
poller fetches; some delivered again through the other door (same Message-ID)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

from chaos.plan import TENANTS, ChaosConfig
from ticketing_ops.dovecot import PASSWORD

IMAP_PASSWORD = PASSWORD  # Dovecot's static password database: one password for every user


def smtp_mailbox(tenant: str) -> str:
    return f"help@{tenant}.test"


def imap_mailbox(tenant: str) -> str:
    return f"imap@{tenant}.test"


def imap_user(tenant: str) -> str:
    """Dovecot's user (its maildir) behind the tenant's IMAP mailbox."""
    return f"imap-{tenant}"


@dataclass
class Delivery:
    """One handing-over of a message through one door, and what came of it."""

    door: str  # "smtp" | "imap"
    release_at: float  # seconds since the load started
    accepted: bool = False  # 250 at the end of DATA, or APPEND answered OK
    attempts: int = 0
    answers: list[str] = field(default_factory=list)  # every reply or error, in order
    error: str | None = None


@dataclass
class MailMessage:
    index: int
    tenant_id: str
    customer_id: str
    sender: str
    deliveries: list[Delivery]

    @property
    def message_id(self) -> str:
        return f"<chaos-mail-{self.index:05d}@example.test>"

    def mailbox(self, door: str) -> str:
        return smtp_mailbox(self.tenant_id) if door == "smtp" else imap_mailbox(self.tenant_id)

    def raw(self, door: str) -> bytes:
        message = EmailMessage()
        message["From"] = f"Chaos Mailer {self.index} <{self.sender}>"
        message["To"] = self.mailbox(door)
        message["Subject"] = f"Chaos mail {self.index}: the line is down again"
        message["Message-ID"] = self.message_id
        message["Date"] = formatdate(localtime=False)
        message.set_content(
            f"Hello,\n\nmail number {self.index} of the chaos run: no signal since this "
            "morning.\n\nRegards\n"
        )
        return message.as_bytes()


def plan_mails(config: ChaosConfig, rng: random.Random) -> list[MailMessage]:
    """`config.mail_count()` messages spread over the load window; a share sent again later
    through the other door of the same tenant (a duplicate, never a second ticket)."""
    count = config.mail_count()
    window = config.window()
    mails = []
    for index in range(count):
        tenant = TENANTS[index % len(TENANTS)]
        door = "imap" if rng.random() < config.imap_ratio else "smtp"
        release = window * (index + rng.random()) / max(1, count) * 0.9
        deliveries = [Delivery(door, release)]
        if rng.random() < config.mail_resend_ratio:
            other = "smtp" if door == "imap" else "imap"
            deliveries.append(Delivery(other, min(window, release + rng.uniform(0.0, 10.0))))
        mails.append(MailMessage(index, tenant, str(300_000 + index),
                                 f"mailer-{index}@example.test", deliveries))
    return mails
