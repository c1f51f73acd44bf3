"""A real Dovecot IMAP server on 127.0.0.1 for tests: its own configuration, users and mail
in a temporary folder, started with ``dovecot -F`` and stopped at the end.

Usage (see ``tests/test_mailbox.py``)::

    with Dovecot.start() as server:
        server.append("INBOX", raw_bytes)
        ImapFolder("127.0.0.1", server.port, user=server.user, password=server.password, tls="none")
"""

from __future__ import annotations

import getpass
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def available() -> bool:
    """True when a dovecot binary is installed."""
    return Path(DOVECOT).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """A running Dovecot with one user (``fbl`` / ``secret``)."""

    user = "fbl"
    password = "secret"

    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.root, self.port, self.process = root, port, process

    @classmethod
    def start(cls, timeout: float = 20.0) -> Dovecot:
        """Write the configuration, start the server and wait until it answers."""
        # dovecot's unprivileged processes must traverse the folder: not pytest's 0700 tmp
        root = Path(tempfile.mkdtemp(prefix="wb-dovecot-"))
        root.chmod(0o755)
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir()
        if os.geteuid() == 0:
            login_user, internal_user, internal_group, uid, gid = "dovenull", "dovecot", "dovecot", 65534, 65534
            for sub in ("mail", "home"):
                os.chown(root / sub, uid, gid)
        else:
            me = getpass.getuser()
            login_user = internal_user = me
            internal_group = me
            uid, gid = os.getuid(), os.getgid()
        (root / "users").write_text(f"{cls.user}:{{PLAIN}}{cls.password}\n")
        port = _free_port()
        conf = root / "dovecot.conf"
        conf.write_text(CONFIG.format(root=root, port=port, uid=uid, gid=gid, login_user=login_user,
                                      internal_user=internal_user, internal_group=internal_group))
        process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = cls(root, port, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                stderr = process.stderr.read().decode() if process.stderr else ""
                server.stop()
                raise RuntimeError(f"dovecot exited: {stderr}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return server
            except OSError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError("dovecot did not start in time")

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, folder: str, *messages: bytes) -> None:
        """Deliver ``messages`` into ``folder`` (created when missing) over IMAP."""
        conn = self.client()
        try:
            if folder.upper() != "INBOX":
                conn.create(f'"{folder}"')
            for data in messages:
                status, _ = conn.append(f'"{folder}"', None, None, data)
                assert status == "OK"
        finally:
            conn.logout()

    def expunge_all(self, folder: str) -> None:
        conn = self.client()
        try:
            conn.select(f'"{folder}"')
            conn.store("1:*", "+FLAGS", "\\Deleted")
            conn.expunge()
        finally:
            conn.logout()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
