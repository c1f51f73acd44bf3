"""A real DNS server for tests: Knot DNS (``knotd``) on 127.0.0.1, serving one root zone.

Every name a test needs lives in one zone file whose origin is the root (``.``), so one
server answers for ``brightmart.example``, ``_spf.esp.example`` and the ``in-addr.arpa``
PTRs alike. A root SOA and NS are added when the text has none. Each server gets its own
port, config, run directory and storage under a temporary folder; it starts in ~20 ms.

Use the ``knot_server`` fixture (``tests/conftest.py``)::

    def test_x(knot_server):
        host, port = knot_server('brightmart.example. 300 IN TXT "v=spf1 -all"')
        resolver = LiveResolver([f"{host}:{port}"])
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

ROOT_APEX = (
    "$TTL 300\n"
    ". 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n"
    ". 300 IN NS ns.test.\n"
    "ns.test. 300 IN A 127.0.0.1\n"
)


def knotd_path() -> str | None:
    """The ``knotd`` binary (Debian's ``knot``; ``/usr/sbin`` is often off a user's PATH)."""
    return shutil.which("knotd") or shutil.which("knotd", path="/usr/sbin:/sbin:/usr/local/sbin")


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for knotd")


def root_zone(text: str) -> str:
    """Zone text with the root apex (SOA, NS) added when missing, origin the root."""
    has_soa = any(line.split()[:1] == ["."] and " SOA " in f" {line} " for line in text.splitlines())
    body = text if has_soa else ROOT_APEX + text
    return "$ORIGIN .\n" + body + "\n"


class KnotServer:
    """One ``knotd`` process serving ``zone_text`` as the root zone on 127.0.0.1."""

    def __init__(self, zone_text: str, base: Path | None = None) -> None:
        binary = knotd_path()
        if binary is None:
            raise RuntimeError("knotd not found: install Debian's `knot` (scripts/system-deps.sh does)")
        self.dir = Path(tempfile.mkdtemp(prefix="knot-", dir=base))
        self.host = "127.0.0.1"
        self.port = _free_port()
        (self.dir / "run").mkdir()
        (self.dir / "storage").mkdir()
        (self.dir / "root.zone").write_text(root_zone(zone_text), encoding="utf-8")
        (self.dir / "knot.conf").write_text(
            "server:\n"
            f'    rundir: "{self.dir / "run"}"\n'
            f"    listen: {self.host}@{self.port}\n"
            "    udp-workers: 2\n"
            "    tcp-workers: 1\n"
            "    background-workers: 1\n"
            "database:\n"
            f'    storage: "{self.dir / "storage"}"\n'
            "log:\n"
            "  - target: stderr\n"
            "    any: warning\n"
            "zone:\n"
            "  - domain: .\n"
            f'    file: "{self.dir / "root.zone"}"\n'
            "    journal-content: none\n"
            "    zonefile-sync: -1\n"
            "    semantic-checks: off\n",
            encoding="utf-8",
        )
        self._log = (self.dir / "knotd.log").open("wb")
        self.process = subprocess.Popen([binary, "-c", str(self.dir / "knot.conf")], stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def nameserver(self) -> str:
        """``host:port``, as :class:`workbench.auth.resolver.LiveResolver` takes it."""
        return f"{self.host}:{self.port}"

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        query = dns.message.make_query(".", dns.rdatatype.SOA)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                response = dns.query.udp(query, self.host, port=self.port, timeout=0.2)
                if response.answer:
                    return
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.005)
        self.stop()
        log = (self.dir / "knotd.log").read_text(errors="replace")
        raise RuntimeError(f"knotd did not start on {self.host}:{self.port}:\n{log}")

    def stop(self) -> None:
        """Stop the server and remove its files (safe to call twice)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.process.kill()
                self.process.wait()
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> KnotServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
