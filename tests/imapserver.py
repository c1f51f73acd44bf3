"""A real Dovecot IMAP server on 127.0.0.1 for tests: its own config, a temporary mail dir.

``dovecot_server()`` starts Debian's ``dovecot`` in the foreground with a generated config
(static password, Maildir, plain IMAP on a free port, no SSL) and yields a
:class:`Dovecot` with a helper to append messages. Run as root (as CI is), the login and
mail processes run as Dovecot's own unprivileged users (``dovenull``, ``dovecot``); run as
another user, they run as that user.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "dmarc", "s3cret-for-tests"


@dataclass
class Dovecot:
    host: str
    port: int
    root: Path
    user: str = USER
    password: str = PASSWORD

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=30)
        imap.login(self.user, self.password)
        return imap

    def append(self, folder: str, data: bytes) -> None:
        imap = self.client()
        try:
            imap.create(f'"{folder}"')
            status, detail = imap.append(f'"{folder}"', None, None, data)
            assert status == "OK", detail
        finally:
            imap.logout()

    def count(self, folder: str) -> int:
        imap = self.client()
        try:
            status, data = imap.select(f'"{folder}"', readonly=True)
            return int(data[0]) if status == "OK" and data and data[0] else 0
        finally:
            imap.logout()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        login_user, internal_user = "dovenull", "dovecot"
        mail = pwd.getpwnam("dovecot")
    else:
        login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
        mail = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(mail.pw_gid).gr_name
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
instance_name = wbtest-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = 1
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
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
"""


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    """Start Dovecot; stop it and remove its files afterwards."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise RuntimeError("dovecot is not installed: run scripts/system-deps.sh (Debian package dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="wb-dovecot-"))  # outside pytest's 0700 tree: Dovecot's users must reach it
    root.chmod(0o755)
    for sub in ("run", "state", "home"):
        (root / sub).mkdir()
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        os.chown(root / "home", mail.pw_uid, mail.pw_gid)
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(_config(root, port))
    proc = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if s.recv(64).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"dovecot did not start: {output}\n{log}")
            time.sleep(0.1)
        yield Dovecot("127.0.0.1", port, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(root, ignore_errors=True)
