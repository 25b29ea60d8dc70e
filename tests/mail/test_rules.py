"""The intake decision is pure: its guarantees hold for any message and any facts."""

from __future__ import annotations

import uuid
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.mail.models import MailOutcome, SenderPolicy
from ticketing.mail.parsing import ParsedMail
from ticketing.mail.reports import DeliveryReport
from ticketing.mail.rules import (
    IntakeFacts,
    MailboxPolicy,
    ThreadFacts,
    auto_generated,
    customer_id_for,
    decide,
    ticket_numbers,
)

TICKET = uuid.UUID("00000000-0000-0000-0000-000000000001")
ADDRESSES = st.sampled_from(
    ["jane@example.com", "tom@example.org", "eve@evil.example", "ann@partner.example"]
)
AUTO = st.dictionaries(
    st.sampled_from(["auto-submitted", "precedence", "list-id", "x-autoreply", "x-autorespond"]),
    st.sampled_from(
        ["no", "auto-replied", "auto-generated", "bulk", "junk", "list", "first-class", "yes"]
    ),
    max_size=3,
)


@st.composite
def mails(draw: st.DrawFn) -> ParsedMail:
    report = draw(
        st.none() | st.builds(DeliveryReport, st.tuples(ADDRESSES), st.just("5.1.1"), st.just(()))
    )
    return ParsedMail(
        message_key=draw(st.text(min_size=1, max_size=20)),
        size=100,
        sender=draw(ADDRESSES),
        subject=draw(st.sampled_from(["Help", "[TKT-000001] Re: help", "Re: [tkt-000002]"])),
        auto_headers=draw(AUTO),
        report=report,
        problem=draw(st.sampled_from([None, None, None, "no From address"])),
    )


@st.composite
def facts(draw: st.DrawFn) -> IntakeFacts:
    thread = draw(
        st.none()
        | st.builds(
            ThreadFacts,
            st.just(TICKET),
            st.just("42"),
            st.frozensets(ADDRESSES, max_size=2),
            st.booleans(),
        )
    )
    return IntakeFacts(
        mailbox=MailboxPolicy(
            "support@acme.test",
            "acme",
            draw(st.sampled_from(list(SenderPolicy))),
            ("partner.example",),
            draw(st.booleans()),
        ),
        sender_is_own=draw(st.booleans()),
        reported_notices=draw(st.sampled_from([(), (1,)])),
        recent_from_sender=draw(st.integers(0, 30)),
        max_per_hour=20,
        customer_id=draw(st.sampled_from([None, "42", "99"])),
        thread=thread,
        authserv_id=draw(st.sampled_from([None, "mx.acme.test"])),
        released=draw(st.booleans()),
    )


@settings(max_examples=500, deadline=None)
@given(mails(), facts())
def test_only_a_participant_is_ever_appended_to_a_ticket(
    mail: ParsedMail, fact: IntakeFacts
) -> None:
    decision = decide(mail, fact)
    if decision.outcome is MailOutcome.APPENDED:
        assert fact.thread is not None and decision.ticket_id == fact.thread.ticket_id
        assert mail.sender in fact.thread.participants and not fact.thread.closed
    else:
        assert decision.ticket_id is None


@settings(max_examples=500, deadline=None)
@given(mails(), facts())
def test_machine_mail_never_opens_or_answers_anything(mail: ParsedMail, fact: IntakeFacts) -> None:
    decision = decide(mail, fact)
    machine = mail.report is not None or fact.sender_is_own or auto_generated(mail) is not None
    if machine or mail.problem is not None:
        assert decision.outcome in (MailOutcome.IGNORED, MailOutcome.BOUNCE, MailOutcome.REJECTED)


@settings(max_examples=500, deadline=None)
@given(mails(), facts())
def test_the_rules_apply_in_the_contracts_order(mail: ParsedMail, fact: IntakeFacts) -> None:
    outcome = decide(mail, fact).outcome
    if mail.problem is not None:
        assert outcome is MailOutcome.REJECTED
    elif mail.report is not None:
        assert outcome is (MailOutcome.BOUNCE if fact.reported_notices else MailOutcome.IGNORED)
    elif fact.sender_is_own or auto_generated(mail):
        assert outcome is MailOutcome.IGNORED
    elif not fact.released and fact.recent_from_sender >= fact.max_per_hour:
        assert outcome is MailOutcome.HELD
    elif fact.released:
        assert outcome in (MailOutcome.CREATED, MailOutcome.APPENDED)


@settings(max_examples=300, deadline=None)
@given(mails(), facts())
def test_a_stranger_is_held_unless_the_policy_lets_anyone_in(
    mail: ParsedMail, fact: IntakeFacts
) -> None:
    stranger = replace(
        fact,
        customer_id=None,
        thread=None,
        released=False,
        recent_from_sender=0,
        sender_is_own=False,
        mailbox=replace(fact.mailbox, senders=SenderPolicy.CUSTOMERS),
    )
    clean = replace(mail, report=None, auto_headers={}, problem=None)
    assert decide(clean, stranger).outcome is MailOutcome.HELD


@given(mails(), facts())
def test_a_new_senders_customer_id_is_stable(mail: ParsedMail, fact: IntakeFacts) -> None:
    decision = decide(mail, fact)
    if decision.register:
        assert mail.sender is not None
        assert decision.customer_id == customer_id_for("acme", mail.sender.upper())


def test_auto_submitted_no_is_a_person() -> None:
    person = ParsedMail("k", 1, sender="a@b.c", auto_headers={"auto-submitted": "No"})
    assert auto_generated(person) is None


def test_ticket_numbers_in_a_subject() -> None:
    assert ticket_numbers("Re: [tkt-000012] and [TKT-1234567] not TKT-000001") == [
        "TKT-000012",
        "TKT-1234567",
    ]
