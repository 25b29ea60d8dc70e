"""Mail intake: the one flow every door (pipe, SMTP, IMAP) calls for a received message.

Store the raw message first (once per tenant and Message-ID, or digest), then decide by the
rules (ticketing.mail.rules) and act: create or append through the ticket flows, with the
mail's outcome and attachments in the ticket change's own transaction, so a retry after any
crash finds either nothing done or everything done, never a second ticket or message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketing.auth.principal import Principal
from ticketing.core.enums import Actor, Channel
from ticketing.core.errors import InvalidInput, TicketingError
from ticketing.core.fields import MAX_DESCRIPTION
from ticketing.db.rls import bind_scope, bind_system
from ticketing.mail import bounce_repository as bounces
from ticketing.mail import repository as repo
from ticketing.mail.errors import AlreadyDecided, MailNotFound, NoMailbox
from ticketing.mail.facts import IntakePolicy, read_facts
from ticketing.mail.models import Mailbox, MailOutcome
from ticketing.mail.parsing import ParsedMail, parse_head, parse_mail
from ticketing.mail.rules import Decision, IntakeFacts, ThreadFacts, decide
from ticketing.tenants.schemas import UpsertCustomerInput
from ticketing.tickets.attachments.schemas import NewFile
from ticketing.tickets.attachments.service import AttachmentService
from ticketing.tickets.attachments.store import AttachmentStores, PostgresStore
from ticketing.tickets.flows import Also, TicketFlows
from ticketing.tickets.ports import Notices, Watchers
from ticketing.tickets.schemas import CreateTicketRequest, TicketInfo

log = structlog.get_logger(__name__)
NO_SUBJECT = "(no subject)"
NO_TEXT = "(no text)"


@dataclass(frozen=True)
class IntakeConfig:
    max_bytes: int = 25 * 1024 * 1024
    max_per_hour: int = 20
    authserv_id: str | None = None
    # The product's own sender address (TICKETING_SMTP_SENDER): mail from it is a loop.
    own_sender: str | None = None
    # The right-hand side of our Message-IDs: a References naming our thread root finds it.
    mail_domain: str = "localhost"
    stores: AttachmentStores = field(default_factory=lambda: AttachmentStores(PostgresStore()))


@dataclass(frozen=True)
class IntakeResult:
    outcome: MailOutcome
    mail_id: int
    ticket_number: str | None = None
    reason: str | None = None
    mailbox: str | None = None

    def public(self) -> dict[str, str | None]:
        """The contract's `--json` object."""
        return {
            "outcome": self.outcome.value,
            "ticket_number": self.ticket_number,
            "reason": self.reason,
        }


class MailIntake:
    """Receives one message at a time for whichever tenant its mailbox belongs to."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        watchers: Watchers,
        notices: Notices,
        config: IntakeConfig | None = None,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.watchers = watchers
        self.notices = notices
        self.config = config or IntakeConfig()
        # Told every committed outcome (the metrics' counter).
        self.on_outcome = on_outcome

    async def mailbox_for(self, addresses: tuple[str, ...]) -> Mailbox | None:
        """The first of `addresses` that is a mailbox (any tenant's: the address says which)."""
        async with self.sessions() as session:
            bind_system(session)
            return await repo.find_mailbox(session, addresses)

    async def receive(
        self, raw: bytes, *, recipients: tuple[str, ...] = (), size: int | None = None
    ) -> IntakeResult:
        """Take one message. `recipients`: the envelope's (or `--recipient`); else the
        headers name the mailbox. `size` > max: `raw` is only the head of a message kept as
        rejected. Raises NoMailbox when no mailbox matches."""
        size = len(raw) if size is None else size
        oversize = size > self.config.max_bytes
        if oversize:
            mail = replace(
                parse_head(raw, size),
                problem=f"over the size limit ({size} > {self.config.max_bytes} bytes)",
            )
        else:
            mail = parse_mail(raw)
        candidates = recipients or mail.routing_candidates
        async with self.sessions() as session:
            bind_system(session)
            ours = await repo.mailboxes_named(
                session, (*candidates, *mail.to, *mail.cc, mail.sender or "")
            )
        mailbox = next((ours[a] for a in candidates if a in ours), None)
        if mailbox is None:
            raise NoMailbox(candidates)
        own = mail.sender is not None and (
            mail.sender == (self.config.own_sender or "").lower() or mail.sender in ours
        )
        copies = tuple(a for a in dict.fromkeys((*mail.to, *mail.cc)) if a not in ours)
        principal = intake_principal(mailbox)
        # Stored first; the facts the decision needs are read in the same transaction.
        async with self.sessions() as session, session.begin():
            bind_scope(session, principal)
            stored = await repo.store_mail(
                session,
                tenant_id=mailbox.tenant_id,
                mailbox=mailbox.address,
                mail=mail,
                raw=None if oversize else raw,
                now=datetime.now(UTC),
            )
            facts = None
            if stored.outcome is None:
                facts = await read_facts(
                    session, self._policy(), stored.id, mail, mailbox, own=own, released=False
                )
        if facts is None:
            result = _duplicate(stored.id, mailbox)
        else:
            result = await self._decide(
                stored.id, mail, mailbox, own, copies, expected=None, facts=facts
            )
        if self.on_outcome is not None:
            self.on_outcome(result.outcome.value)
        log.info(
            "mail_received",
            outcome=result.outcome.value,
            tenant_id=mailbox.tenant_id,
            mail_id=stored.id,
            ticket_number=result.ticket_number,
        )
        return result

    async def release(self, principal: Principal, mail_id: int) -> IntakeResult:
        """Let a held mail through the remaining rules (threading, create) for `principal`'s
        tenant; any other mail, or another tenant's, is refused naming `id`."""
        async with self.sessions() as session:
            bind_scope(session, principal)
            row = await repo.get_mail(session, mail_id)
            if row is None:
                raise MailNotFound(mail_id)
            if row.outcome is not MailOutcome.HELD or row.raw is None:
                raise InvalidInput("id", mail_id, f"is {row.outcome or 'undecided'}, not held")
            raw, address = row.raw, row.mailbox
        mail = parse_mail(raw)
        async with self.sessions() as session:
            bind_system(session)
            mailbox = await repo.get_mailbox(session, address)
            ours = await repo.mailboxes_among(session, (*mail.to, *mail.cc))
        if mailbox is None:
            raise MailNotFound(mail_id)
        copies = tuple(a for a in dict.fromkeys((*mail.to, *mail.cc)) if a not in ours)
        return await self._decide(
            mail_id, mail, mailbox, False, copies, expected=MailOutcome.HELD, released=True
        )

    # -- deciding and acting ------------------------------------------------------------

    async def _decide(
        self,
        mail_id: int,
        mail: ParsedMail,
        mailbox: Mailbox,
        own: bool,
        copies: tuple[str, ...],
        *,
        expected: MailOutcome | None,
        released: bool = False,
        facts: IntakeFacts | None = None,
    ) -> IntakeResult:
        principal = intake_principal(mailbox)
        if facts is None:
            async with self.sessions() as session:
                bind_scope(session, principal)
                facts = await read_facts(
                    session, self._policy(), mail_id, mail, mailbox, own=own, released=released
                )
        decision = decide(mail, facts)
        mail = replace(mail, to=(), cc=copies)
        try:
            return await self._act(principal, mail_id, mail, mailbox, facts, decision, expected)
        except AlreadyDecided:
            return _duplicate(mail_id, mailbox)
        except TicketingError as error:
            # The ticket flows refused what the mail carries: kept as rejected, with why,
            # rather than failed back to an MTA that would retry it for days.
            refused = Decision(MailOutcome.REJECTED, f"refused: {error.message}"[:1000])
            log.warning("mail_refused", mail_id=mail_id, error=error.message)
            try:
                return await self._act(principal, mail_id, mail, mailbox, facts, refused, expected)
            except AlreadyDecided:
                return _duplicate(mail_id, mailbox)

    async def _act(
        self,
        principal: Principal,
        mail_id: int,
        mail: ParsedMail,
        mailbox: Mailbox,
        facts: IntakeFacts,
        decision: Decision,
        expected: MailOutcome | None,
    ) -> IntakeResult:
        now = datetime.now(UTC)
        if decision.outcome is MailOutcome.CREATED:
            ticket = await self._create(principal, mail_id, mail, mailbox, decision, expected)
        elif decision.outcome is MailOutcome.APPENDED:
            assert facts.thread is not None
            ticket = await self._append(mail_id, mail, mailbox, facts.thread, expected)
        else:
            async with self.sessions() as session, session.begin():
                bind_scope(session, principal)
                if decision.outcome is MailOutcome.BOUNCE:
                    await repo.mark_notices_bounced(
                        session, facts.reported_notices, decision.reason or "", now
                    )
                    if mail.report is not None and mail.report.permanent:
                        await bounces.flag_bounced(
                            session,
                            facts.reported_notices,
                            mail.report.recipients,
                            decision.reason or "",
                            mail_id,
                            now,
                        )
                if not await repo.record_outcome(
                    session,
                    mail_id,
                    expected=expected,
                    outcome=decision.outcome,
                    reason=decision.reason,
                    now=now,
                ):
                    raise AlreadyDecided("already decided")
            return IntakeResult(
                decision.outcome, mail_id, reason=decision.reason, mailbox=mailbox.address
            )
        return IntakeResult(
            decision.outcome,
            mail_id,
            ticket_number=ticket.ticket_number,
            reason=decision.reason,
            mailbox=mailbox.address,
        )

    def _policy(self) -> IntakePolicy:
        return IntakePolicy(
            max_per_hour=self.config.max_per_hour,
            authserv_id=self.config.authserv_id,
            mail_domain=self.config.mail_domain,
        )

    def _flows(self, principal: Principal) -> TicketFlows:
        return TicketFlows(self.sessions, principal, watchers=self.watchers, notices=self.notices)

    async def _create(
        self,
        principal: Principal,
        mail_id: int,
        mail: ParsedMail,
        mailbox: Mailbox,
        decision: Decision,
        expected: MailOutcome | None,
    ) -> TicketInfo:
        assert mail.sender is not None and decision.customer_id is not None
        customer = UpsertCustomerInput(
            tenant_id=mailbox.tenant_id,
            customer_id=decision.customer_id,
            email=mail.sender if decision.register else None,
            name=(mail.sender_name or None) if decision.register else None,
        )
        request = CreateTicketRequest(
            title=mail.subject or NO_SUBJECT,
            description=mail.text[:MAX_DESCRIPTION],
            customer_id=decision.customer_id,
            tenant_id=mailbox.tenant_id,
            channel=Channel.EMAIL,
            requester_email=mail.sender,
            idempotency_key=f"mail:{mail_id}",
        )
        record = self._recorder(mail_id, mail, MailOutcome.CREATED, expected, on_message=False)
        if decision.register:
            return await self._flows(principal).open_for_customer(customer, request, also=record)
        # A registered customer: the create's own one-statement path. Its idempotency key is
        # the mail's row, so a crash before the outcome below is committed replays this very
        # ticket on the retry (every door retries an undecided mail), never a second one.
        ticket = await self._flows(principal).create(request)
        async with self.sessions() as session, session.begin():
            bind_scope(session, principal)
            await record(session, ticket)
        return ticket

    async def _append(
        self,
        mail_id: int,
        mail: ParsedMail,
        mailbox: Mailbox,
        thread: ThreadFacts,
        expected: MailOutcome | None,
    ) -> TicketInfo:
        # As the ticket's customer: the reply moves the SLA as any customer reply does.
        customer = Principal.customer(mailbox.tenant_id, thread.customer_id, name=mail.sender)
        record = self._recorder(mail_id, mail, MailOutcome.APPENDED, expected, on_message=True)
        return await self._flows(customer).reply(
            thread.ticket_id,
            body=(mail.reply_text or NO_TEXT)[:MAX_DESCRIPTION],
            author_actor=Actor.CUSTOMER,
            author=mail.sender,
            also=record,
        )

    def _recorder(
        self,
        mail_id: int,
        mail: ParsedMail,
        outcome: MailOutcome,
        expected: MailOutcome | None,
        *,
        on_message: bool,
    ) -> Also:
        """The work that commits with the ticket change: outcome, attachments, copies."""

        async def record(session: AsyncSession, ticket: TicketInfo) -> None:
            now = datetime.now(UTC)
            message_id = None
            if on_message:
                message_id = await repo.last_message_id(session, ticket.ticket_id)
            if not await repo.record_outcome(
                session,
                mail_id,
                expected=expected,
                outcome=outcome,
                reason=None,
                now=now,
                ticket_id=ticket.ticket_id,
                message_id=message_id,
            ):
                raise AlreadyDecided("already decided")
            principal = Principal.integration(ticket.tenant_id, name="mail")
            if mail.attachments:
                await AttachmentService(session, principal, self.config.stores).attach(
                    ticket.ticket_id,
                    ticket.tenant_id,
                    [NewFile(a.filename, a.content_type, a.data) for a in mail.attachments],
                    message_id=message_id,
                    max_bytes=self.config.max_bytes,
                    now=now,
                )
            # The addresses the customer copied may answer this ticket by mail from now on.
            customer_address = (ticket.requester_email or "").lower()
            if outcome is MailOutcome.CREATED or mail.sender == customer_address:
                copied = [a for a in mail.cc if a != mail.sender]
                await repo.add_participants(
                    session,
                    tenant_id=ticket.tenant_id,
                    ticket_id=ticket.ticket_id,
                    addresses=copied,
                    now=now,
                )

        return record


def intake_principal(mailbox: Mailbox) -> Principal:
    """Intake acts for the mailbox's tenant, as one of its integrations."""
    return Principal.integration(mailbox.tenant_id, name=f"mail:{mailbox.address}")


def _duplicate(mail_id: int, mailbox: Mailbox) -> IntakeResult:
    return IntakeResult(
        MailOutcome.DUPLICATE, mail_id, reason="already received", mailbox=mailbox.address
    )
