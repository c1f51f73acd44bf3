"""The embedded SMTP sink: accepts mail on 127.0.0.1 and stores it in a Maildir under ``data/``.

It stands in for a relay in the demo, the tests and the benchmark, and keeps the record the
sender reconciles with after a crash (:class:`MaildirRecord`).

Two engines share one :class:`MaildirWriter`:

- ``lean`` (default): a small asyncio protocol (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
  that announces PIPELINING and answers a pipelined group in one write. aiosmtpd's
  per-command coroutines saturate at 700–800 messages/s on two cores; this one measures
  several times that, so a benchmark measures the sender, not the sink.
- ``aiosmtpd``: the library's server, used when STARTTLS or AUTH is asked for.

Each message is written to ``tmp/`` and renamed into ``new/`` *before* the 250 reply, with
``Return-Path``, ``Delivered-To`` and a ``Received`` line (peer address, session and message
number) prepended as a delivery agent would. ``<maildir>.sessions.jsonl`` beside the Maildir logs every
session (peer, start, end, messages, recipient domains) and ``<maildir>.deliveries.jsonl``
every delivery as a canonical ``delivered`` event (``workbench load`` reads it as the
``generic`` format: the sink stands for the recipients' mailboxes). ``replies`` (recipient -> reply)
lets a test make the sink refuse or defer a recipient.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import IO

__all__ = ["MaildirWriter", "Sink", "SinkSession", "header_message_id"]

MAX_LINE = 4096
MAX_MESSAGE = 50 << 20


class MaildirWriter:
    """Delivers messages into a Maildir (``tmp/`` then rename into ``new/``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")
        self._count = 0
        self._lock = threading.Lock()

    def deliver(self, data: bytes) -> str:
        """Store one message; returns its file name."""
        with self._lock:
            self._count += 1
            count = self._count
        name = f"{time.time_ns()}.P{os.getpid()}Q{count}.{self._host}"
        tmp = self.path / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.rename(tmp, self.path / "new" / name)
        return name


def header_message_id(data: bytes, limit: int = 64 << 10) -> str | None:
    """The Message-ID in a message's header block (CRLF or LF line ends)."""
    head = data[:limit].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:11].lower() == b"message-id:":
            return line[11:].strip().decode("ascii", "replace")
    return None


def trace_lines(sender: str, recipient: str, helo: str, peer: str, session: int, number: int) -> bytes:
    """The lines a delivery agent prepends: Return-Path, Delivered-To and Received."""
    return (f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n"
            f"Received: from {helo} ({peer}) by sink with ESMTP id S{session}M{number}\r\n"
            f" for <{recipient}>; {formatdate(usegmt=True)}\r\n").encode("ascii", "replace")


@dataclass
class SinkSession:
    """One SMTP session, as logged to ``sessions.jsonl``."""

    session: int
    peer: str
    started: float
    ended: float | None = None
    messages: int = 0
    domains: set[str] = field(default_factory=set)

    def as_json(self) -> str:
        return json.dumps({"session": self.session, "peer": self.peer, "started": self.started, "ended": self.ended,
                           "messages": self.messages, "domains": sorted(self.domains)})


class _Shared:
    """What every session of one sink shares."""

    def __init__(self, writer: MaildirWriter, replies: Mapping[str, tuple[int, str]], log: Path,
                 delay: float = 0.0) -> None:
        self.writer = writer
        self.delay = delay
        self.pending = 0
        self.deliveries_path = log.with_name(log.name.replace(".sessions.jsonl", ".deliveries.jsonl"))
        self.deliveries: IO[str] | None = None
        self.transports: set[asyncio.BaseTransport] = set()
        self.replies = {k.lower(): v for k, v in replies.items()}
        self.sessions = 0
        self.delivered = 0
        self.log = log
        self._log_lock = threading.Lock()

    def store(self, sender: str, recipient: str, helo: str, info: SinkSession, number: int, body: bytes) -> None:
        """Deliver one message into the Maildir and log the delivery (``deliveries.jsonl``)."""
        name = self.writer.deliver(trace_lines(sender, recipient, helo, info.peer, info.session, number) + body)
        record = {"ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "event_type": "delivered",
                  "event_id": name, "message_id": header_message_id(body), "recipient": recipient.lower(),
                  "sender": sender, "remote_mta": "sink", "smtp_code": 250, "diagnostic": f"stored in {name}"}
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._log_lock:
            if self.deliveries is None:
                self.deliveries = open(self.deliveries_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            self.deliveries.write(line)
            self.deliveries.flush()
        info.domains.add(recipient.rpartition("@")[2].lower())
        self.delivered += 1

    def close(self) -> None:
        with self._log_lock:
            if self.deliveries is not None:
                self.deliveries.close()
                self.deliveries = None

    def next_session(self) -> int:
        self.sessions += 1
        return self.sessions

    def close_session(self, info: SinkSession) -> None:
        info.ended = info.ended or time.time()
        with self._log_lock, open(self.log, "a", encoding="utf-8") as handle:
            handle.write(info.as_json() + "\n")


class _LeanProtocol(asyncio.Protocol):
    """A minimal ESMTP server session with PIPELINING (see the module docstring)."""

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared
        self.buffer = bytearray()
        self.in_data = False
        self.sender: str | None = None
        self.recipients: list[str] = []
        self.refused: list[tuple[int, str]] = []
        self.helo = "unknown"
        self.paused = False
        self.transport: asyncio.Transport | None = None
        self.info = SinkSession(shared.next_session(), "?", time.time())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.raw = transport
        self.shared.transports.add(transport)
        peer = transport.get_extra_info("peername")
        self.info.peer = peer[0] if peer else "?"
        transport.write(b"220 sink ESMTP workbench\r\n")  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.transports.discard(self.raw)
        self.shared.close_session(self.info)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.paused:
            self._process()

    def _release(self, out: list[bytes]) -> None:
        """Send the replies held back by ``delay``, then go on with what arrived meanwhile."""
        self.shared.pending -= 1
        self.paused = False
        if self.transport is not None:
            self.transport.write(b"".join(out))
            self._process()

    def _process(self) -> None:
        out: list[bytes] = []
        while self.transport is not None:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_MESSAGE:
                        out.append(b"552 5.3.4 message too big\r\n")
                        self._close(out)
                    break
                body = bytes(self.buffer[: end + 2]).replace(b"\r\n..", b"\r\n.")
                body = body[1:] if body.startswith(b".") else body
                del self.buffer[: end + 5]
                self.in_data = False
                out.append(self._deliver(body))
                if self.shared.delay > 0:  # stored, the reply held back: a message in flight
                    self.paused = True
                    self.shared.pending += 1
                    asyncio.get_running_loop().call_later(self.shared.delay, self._release, out)
                    return
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    out.append(b"500 5.5.2 line too long\r\n")
                    self._close(out)
                break
            line = bytes(self.buffer[:end]).decode("ascii", "replace")
            del self.buffer[: end + 2]
            reply = self._command(line)
            if reply is None:
                self._close([*out, b"221 2.0.0 bye\r\n"])
                return
            out.append(reply)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _close(self, out: list[bytes]) -> None:
        if self.transport is not None:
            self.transport.write(b"".join(out))
            self.transport.close()
            self.transport = None

    def _command(self, line: str) -> bytes | None:
        verb = line[:4].upper()
        if verb in ("EHLO", "HELO"):
            self.helo = line[5:].strip() or "unknown"
            self._reset()
            if verb == "HELO":
                return b"250 sink\r\n"
            return f"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE {MAX_MESSAGE}\r\n250 ENHANCEDSTATUSCODES\r\n".encode()
        if verb == "MAIL":
            self._reset()
            self.sender = _path(line)
            return b"250 2.1.0 OK\r\n"
        if verb == "RCPT":
            if self.sender is None:
                return b"503 5.5.1 MAIL first\r\n"
            rcpt = _path(line)
            reply = self.shared.replies.get(rcpt.lower())
            if reply and reply[0] >= 400:
                return f"{reply[0]} {reply[1]}\r\n".encode()
            self.recipients.append(rcpt)
            return b"250 2.1.5 OK\r\n"
        if verb == "DATA":
            if not self.recipients:
                return b"554 5.5.1 no valid recipients\r\n"
            self.in_data = True
            return b"354 end with <CRLF>.<CRLF>\r\n"
        if verb == "RSET":
            self._reset()
            return b"250 2.0.0 OK\r\n"
        if verb == "NOOP":
            return b"250 2.0.0 OK\r\n"
        if verb == "QUIT":
            self.info.ended = time.time()  # the session ends here for the client (it awaits the 221)
            return None
        return b"502 5.5.2 command not implemented\r\n"

    def _reset(self) -> None:
        self.sender, self.recipients = None, []

    def _deliver(self, body: bytes) -> bytes:
        number = self.info.messages + 1
        for rcpt in self.recipients:
            self.shared.store(self.sender or "", rcpt, self.helo, self.info, number, body)
        self.info.messages = number
        self._reset()
        return f"250 2.0.0 OK S{self.info.session}M{number}\r\n".encode()


def _path(line: str) -> str:
    """The address of ``MAIL FROM:<a>`` / ``RCPT TO:<a>`` (parameters ignored)."""
    _, _, rest = line.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1: rest.find(">")] if ">" in rest else rest[1:]
    return rest.split(" ", 1)[0]


class Sink:
    """An SMTP sink on ``host:port`` storing into ``maildir``; start in a background thread.

    Parameters
    ----------
    maildir:
        The Maildir to store into (created).
    host, port:
        Where to listen (port 0: a free port, see :attr:`port` after :meth:`start`).
    engine:
        ``"lean"`` or ``"aiosmtpd"`` (STARTTLS / AUTH need the latter).
    tls_context, auth:
        aiosmtpd only: an ``ssl.SSLContext`` for STARTTLS, and ``{user: password}`` to
        require AUTH (PLAIN / LOGIN, only after STARTTLS when a context is given).
    replies:
        Recipient -> ``(code, text)`` to refuse (5xx) or defer (4xx) at RCPT.
    delay:
        Lean engine: seconds to hold each 250 after the message is stored (a test's way to
        have messages in flight; :attr:`pending` counts them).
    """

    def __init__(self, maildir: str | Path, host: str = "127.0.0.1", port: int = 0, *, engine: str = "lean",
                 tls_context: object | None = None, auth: Mapping[str, str] | None = None,
                 replies: Mapping[str, tuple[int, str]] | None = None, delay: float = 0.0) -> None:
        if engine not in ("lean", "aiosmtpd"):
            raise ValueError(f"unknown sink engine {engine!r}: lean or aiosmtpd")
        if (tls_context is not None or auth) and engine == "lean":
            engine = "aiosmtpd"
        self.writer = MaildirWriter(maildir)
        self.host, self.port, self.engine = host, port, engine
        self.tls_context, self.auth = tls_context, dict(auth or {})
        self.shared = _Shared(self.writer, replies or {}, Path(maildir).parent / f"{Path(maildir).name}.sessions.jsonl",
                              delay)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def maildir(self) -> Path:
        return self.writer.path

    @property
    def sessions_log(self) -> Path:
        return self.shared.log

    @property
    def deliveries_log(self) -> Path:
        """The deliveries as canonical events (JSON lines)."""
        return self.shared.deliveries_path

    @property
    def delivered(self) -> int:
        return self.shared.delivered

    @property
    def pending(self) -> int:
        """Messages stored whose 250 is still held back (``delay``)."""
        return self.shared.pending

    async def serve(self) -> None:
        """Listen until cancelled (in the running loop)."""
        loop = asyncio.get_running_loop()
        if self.engine == "lean":
            self._server = await loop.create_server(lambda: _LeanProtocol(self.shared), self.host, self.port,
                                                    reuse_address=True)
        else:
            from workbench.sending.sink_aiosmtpd import aiosmtpd_factory

            factory = aiosmtpd_factory(self.shared, self.tls_context, self.auth)
            self._server = await loop.create_server(factory, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        async with self._server:
            await self._server.serve_forever()

    def start(self) -> Sink:
        """Serve in a background thread; returns once listening.

        Raises
        ------
        OSError
            The address could not be bound.
        """
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self.serve())
            except (asyncio.CancelledError, RuntimeError):
                pass
            except BaseException as exc:  # reported to start()
                self._error = exc
                self._ready.set()
            finally:
                # let closed transports finish closing their sockets before the loop goes
                self._loop.run_until_complete(asyncio.sleep(0.01))
                self._loop.close()

        self._thread = threading.Thread(target=run, name="workbench-sink", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop serving (safe to call twice)."""
        if self._loop is not None and self._server is not None and self._thread is not None:
            loop, server = self._loop, self._server

            def close() -> None:
                server.close()
                for transport in list(self.shared.transports):  # sessions still open
                    transport.close()
                for task in asyncio.all_tasks(loop):
                    task.cancel()

            loop.call_soon_threadsafe(close)
            self._thread.join(10)
            self._server = None
        self.shared.close()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
