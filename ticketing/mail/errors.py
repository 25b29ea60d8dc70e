"""The intake's own errors, each carrying its status like every domain error."""

from __future__ import annotations

from ticketing.core.errors import NotFound, TicketingError


class NoMailbox(NotFound):
    """No recipient of the message is a mailbox (exit 67, SMTP 550)."""

    def __init__(self, recipients: tuple[str, ...]) -> None:
        shown = ", ".join(recipients[:5]) or "none"
        super().__init__(f"recipient: no mailbox for {shown}", field="recipient", value=shown)


class MailNotFound(NotFound):
    def __init__(self, mail_id: object) -> None:
        super().__init__(f"id: no mail {mail_id!r}", field="id", value=mail_id)


class AlreadyDecided(TicketingError):
    """Another delivery of the same mail committed its outcome first: roll this one back."""
