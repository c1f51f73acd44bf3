"""A real relay for tests: Debian's Postfix on 127.0.0.1, relaying everything to one next hop.

Each instance gets its own configuration directory, queue, data directory and log file
(``maillog_file``, written by ``postlogd``) under a temporary folder, an unprivileged port
for ``smtpd``, and ``relayhost = [127.0.0.1]:<port>`` (the embedded sink in the tests). No
DNS, no local delivery, no chroot, no MIME conversion (a relay must not break DKIM). The
master runs in the foreground as a child of the test (``postfix start-fg``), so stopping it
reaps every Postfix process. Postfix's daemons drop to the ``postfix`` user: the test must
run as root (CI does), with Debian's ``postfix`` installed (``scripts/system-deps.sh``).

    with PostfixRelay(next_hop_port=sink.port) as relay:
        ...  # send to 127.0.0.1:relay.port; relay.maillog is Postfix's log
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: the services a relay-only Postfix needs (no pickup: nothing is submitted locally)
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [127.0.0.1]:{next_hop}
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
disable_mime_output_conversion = yes
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
smtp_tls_security_level = none
smtpd_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


def postfix_path() -> str | None:
    """The ``postfix`` command (``/usr/sbin`` is often off a user's PATH)."""
    return shutil.which("postfix") or shutil.which("postfix", path="/usr/sbin:/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostfixRelay:
    """One Postfix instance on ``127.0.0.1:port`` relaying to ``127.0.0.1:next_hop_port``."""

    def __init__(self, next_hop_port: int, base: Path | None = None) -> None:
        binary = postfix_path()
        if binary is None:
            raise RuntimeError("postfix not found: install Debian's `postfix` (scripts/system-deps.sh does)")
        if os.geteuid() != 0:
            raise RuntimeError("Postfix's master must start as root (its daemons drop to the postfix user): "
                               "run this test as root, as CI does")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="postfix-", dir=base))
        self.dir.chmod(0o755)  # the daemons (user postfix) must reach the queue
        self.port = _free_port()
        self.etc = self.dir / "etc"
        self.etc.mkdir()
        (self.dir / "queue").mkdir()
        (self.dir / "data").mkdir()
        shutil.chown(self.dir / "data", user="postfix")
        (self.etc / "main.cf").write_text(MAIN_CF.format(dir=self.dir, next_hop=next_hop_port), encoding="utf-8")
        (self.etc / "master.cf").write_text(MASTER_CF.format(port=self.port), encoding="utf-8")
        self._out = (self.dir / "postfix.out").open("wb")
        # `check` creates the queue's folders with their owners and modes
        subprocess.run([binary, "-c", str(self.etc), "check"], stdout=self._out, stderr=subprocess.STDOUT,
                       check=False, timeout=60)
        self.process = subprocess.Popen([binary, "-c", str(self.etc), "start-fg"], stdout=self._out,
                                        stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def maillog(self) -> Path:
        """Postfix's log file (``maillog_file``)."""
        return self.dir / "maillog"

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(512).startswith(b"220"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Postfix did not start on 127.0.0.1:{self.port}:\n{self.log_text()}")

    def log_text(self) -> str:
        """Everything Postfix said (its start-up output, then its log)."""
        parts = [p.read_text(errors="replace") for p in (self.dir / "postfix.out", self.maillog) if p.is_file()]
        return "\n".join(parts)

    def queue_is_empty(self) -> bool:
        """No message waits in Postfix's queue (incoming, active or deferred)."""
        return not any(any(files) for sub in ("incoming", "active", "deferred")
                       for _, _, files in os.walk(self.dir / "queue" / sub))

    def stop(self) -> None:
        """Stop Postfix and remove its files (safe to call twice)."""
        if self.process.poll() is None:
            subprocess.run([self.binary, "-c", str(self.etc), "stop"], stdout=self._out, stderr=subprocess.STDOUT,
                           check=False, timeout=60)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.process.kill()
                self.process.wait()
        if not self._out.closed:
            self._out.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostfixRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
