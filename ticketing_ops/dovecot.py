"""A real IMAP server for the tests and the chaos run: Debian's Dovecot with its own config,
port and mail folder (`apt-get install dovecot-imapd`; ./scripts/test installs it)."""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ticketing_ops.devstack import find_free_port

PASSWORD = "imap-test-password"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """
base_dir = {home}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = 1
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


@dataclass(frozen=True)
class Dovecot:
    port: int
    home: Path

    def client(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(user, PASSWORD)
        return client

    def deliver(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client(user)
        try:
            if folder != "INBOX":
                client.create(folder)
            for raw in messages:
                status, _ = client.append(folder, None, None, raw)
                assert status == "OK"
        finally:
            client.logout()

    def unflagged(self, user: str, folder: str = "INBOX") -> int:
        client = self.client(user)
        try:
            client.select(folder)
            _, data = client.uid("SEARCH", "UNKEYWORD", "$TicketingDone")
            return len(data[0].split()) if data and data[0] else 0
        finally:
            client.logout()


@contextmanager
def dovecot(home: Path) -> Iterator[Dovecot]:
    """Dovecot in the foreground on a free loopback port; the mail belongs to `nobody` when
    the tests run as root (Dovecot refuses to serve mail as root)."""
    for folder in ("run", "state"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    uid, gid = (65534, 65534) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    # Outside the test's private (0700) temp folder: the mail user must reach it.
    mail = Path(tempfile.mkdtemp(prefix="dovecot-mail-"))
    mail.chmod(0o777)
    port = find_free_port()
    config = home / "dovecot.conf"
    config.write_text(
        CONFIG.format(home=home, mail=mail, password=PASSWORD, uid=uid, gid=gid, port=port)
    )
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (home / "dovecot.log").read_text()
                        if (home / "dovecot.log").exists()
                        else ""
                    )
                    raise AssertionError(f"dovecot did not start: {log}") from None
                time.sleep(0.05)
        yield Dovecot(port, home)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(mail, ignore_errors=True)
