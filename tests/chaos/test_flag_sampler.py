"""The chaos run's "flagged only after its outcome committed" check can fail: a message flagged
done in Dovecot with no committed outcome is caught; the same message once intake decided it
is not. Real Dovecot, real PostgreSQL, the real intake flow."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.mail_load import DONE, FlagSampler
from chaos.plan_mail import Delivery, MailMessage, imap_mailbox, imap_user
from chaos.report import Check
from chaos.verify.intake import check_imap_flags
from tests.mail.conftest import RecordingPorts, Sessions
from ticketing.auth.principal import Principal
from ticketing.db.engine import make_engine
from ticketing.mail.flows import IntakeConfig, MailIntake
from ticketing.mail.mailboxes import MailboxService
from ticketing.tenants.service import TenantService
from ticketing_ops.dovecot import PASSWORD, Dovecot, dovecot


@pytest.fixture(scope="module")
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    with dovecot(Path(tmp_path_factory.mktemp("dovecot-sampler"))) as server:
        yield server


def flag_all(imap: Dovecot, user: str) -> None:
    client = imaplib.IMAP4("127.0.0.1", imap.port, timeout=10)
    try:
        client.login(user, PASSWORD)
        client.select("INBOX")
        client.uid("STORE", "1:*", "+FLAGS", f"({DONE})")
    finally:
        client.logout()


async def test_a_flag_before_the_outcome_is_caught_and_one_after_is_not(
    imap: Dovecot, committed: Sessions, owner_url: str
) -> None:
    platform = Principal.platform()
    mail = MailMessage(1, "chaos-a", "300001", "mailer-1@example.test", [Delivery("imap", 0)])
    async with committed() as s, s.begin():
        tenants = TenantService(s, platform)
        await tenants.register_tenant("chaos-a", name="Chaos A")
        await tenants.upsert_customer(tenant_id="chaos-a", customer_id="300001",
                                      email=mail.sender)
        await MailboxService(s, platform).add(imap_mailbox("chaos-a"), tenant_id="chaos-a")
    raw = mail.raw("imap")
    imap.deliver(imap_user("chaos-a"), raw)
    flag_all(imap, imap_user("chaos-a"))  # flagged, and intake never saw it
    engine = make_engine(owner_url)
    try:
        early = FlagSampler(imap, owner_url)
        await early.sample(engine)
        assert early.early == {f"chaos-a {mail.message_id}"}
        checks: list[Check] = []
        check_imap_flags(
            lambda *row: checks.append(Check(*row)),
            {"chaos-a": {mail.message_id}}, {"chaos-a": {mail.message_id}}, early.early, 1,
        )
        assert not checks[0].passed

        ports = RecordingPorts()
        intake = MailIntake(committed, watchers=ports, notices=ports,
                            config=IntakeConfig(own_sender="tickets@chaos.test"))
        result = await intake.receive(raw, recipients=(imap_mailbox("chaos-a"),))
        assert result.outcome.value == "created"
        after = FlagSampler(imap, owner_url)
        await after.sample(engine)
        assert after.early == set() and after.flags_seen == 1
    finally:
        await engine.dispose()
