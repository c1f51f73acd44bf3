"""SMTP to a relay: aiosmtplib opens the session, a pipelining protocol carries the messages.

:class:`SmtpTransport` opens connections with aiosmtplib (TCP bound to a source address —
the pool's IP, or a ``127.0.0.x`` standing for it in tests —, EHLO, STARTTLS when offered or
required, AUTH), then hands the socket to :class:`_Pipeline` (``transport.set_protocol``):
aiosmtplib reads one reply per command and drops replies that arrive together, so it cannot
pipeline. When the relay announces PIPELINING (RFC 2920) ``MAIL``, ``RCPT`` and ``DATA`` go
in one write and the message in the next: two round trips a message instead of four.

Every send returns a :class:`Reply`; the transport never raises for what a relay says. A
connection lost *after* the message was written is ``uncertain``: the relay may have taken
it, so the sender must not simply send it again (it reconciles by Message-ID).

:class:`RecordingTransport` is the seam for unit tests (no socket, scripted replies).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

__all__ = ["Connection", "RecordingTransport", "Relay", "Reply", "SmtpTransport", "Transport"]

_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class Relay:
    """Where messages go. ``starttls``: None = when offered, True = required, False = never.
    The AUTH password comes from ``password`` or ``$WORKBENCH_RELAY_PASSWORD``."""

    host: str = "127.0.0.1"
    port: int = 2525
    starttls: bool | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    cafile: str | None = None
    timeout: float = 60.0
    helo: str | None = None

    def describe(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Reply:
    """The outcome of one message: the relay's reply, or ``code`` 0 when there was none.

    ``stage``: where it ended (``connect``, ``mail``, ``rcpt``, ``data``, ``sent``, or
    ``lost`` when the connection broke after the message was written).
    """

    code: int
    text: str
    stage: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300 and self.stage == "sent"

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    @property
    def uncertain(self) -> bool:
        return self.stage == "lost"

    @property
    def temporary(self) -> bool:
        return not (self.ok or self.permanent or self.uncertain)


class Connection(Protocol):
    """One open session to the relay."""

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """Opens connections (``source``: the local address to bind, or None)."""

    async def connect(self, source: str | None) -> Connection: ...

    def describe(self) -> str: ...


class _Lost(ConnectionError):
    pass


class _Pipeline(asyncio.Protocol):
    """Replies read in order, any number per packet; a waiter per command sent."""

    def __init__(self, transport: asyncio.Transport, pipelining: bool, timeout: float) -> None:
        self.transport = transport
        self.pipelining = pipelining
        self.timeout = timeout
        self.buffer = bytearray()
        self.lines: list[bytes] = []
        self.waiters: deque[asyncio.Future[tuple[int, str]]] = deque()
        self.closed = False

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            self.lines.append(line)
            if len(line) >= 4 and line[3:4] == b"-":
                continue
            text = " ".join(x[4:].decode("utf-8", "replace").strip() for x in self.lines)
            code = int(line[:3]) if line[:3].isdigit() else 0
            self.lines = []
            if self.waiters:
                waiter = self.waiters.popleft()
                if not waiter.done():
                    waiter.set_result((code, text))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(_Lost(str(exc or "connection closed")))
                waiter.exception()  # retrieved: nobody may await it

    def _expect(self, n: int) -> list[asyncio.Future[tuple[int, str]]]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(n)]
        self.waiters.extend(futures)
        return futures

    async def _read(self, future: asyncio.Future[tuple[int, str]]) -> tuple[int, str]:
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            self.transport.close()
            raise _Lost("timed out waiting for the relay") from exc

    async def command(self, line: bytes) -> tuple[int, str]:
        if self.closed:
            raise _Lost("connection closed")
        (future,) = self._expect(1)
        self.transport.write(line)
        return await self._read(future)

    async def _envelope(self, sender: str, recipient: str) -> Reply | None:
        """MAIL, RCPT, DATA (pipelined when offered); None when the relay awaits the message."""
        lines = [f"MAIL FROM:<{sender}>\r\n".encode(), f"RCPT TO:<{recipient}>\r\n".encode(), b"DATA\r\n"]
        stages = ("mail", "rcpt", "data")
        if self.pipelining:
            futures = self._expect(3)
            self.transport.write(b"".join(lines))
            replies = [await self._read(f) for f in futures]
        else:
            replies = []
            for line in lines:
                replies.append(await self.command(line))
                if replies[-1][0] >= 400:
                    break
        failed = next((i for i, (code, _) in enumerate(replies[:2]) if code >= 400), None)
        if failed is None and replies[-1][0] == 354:
            return None
        if replies[-1][0] == 354:  # RFC 2920: DATA accepted although the envelope failed
            await self.command(b".\r\n")
        await self.command(b"RSET\r\n")
        index = failed if failed is not None else len(replies) - 1
        return Reply(replies[index][0], replies[index][1], stages[index])

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        if self.closed:
            return Reply(0, "connection closed", "connect")
        try:
            refused = await self._envelope(sender, recipient)
            if refused is not None:
                return refused
            payload = _DOT.sub(b"..", data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            (future,) = self._expect(1)
            self.transport.write(payload + b".\r\n")
        except _Lost as exc:
            return Reply(0, f"connection lost before the message was sent: {exc}", "connect")
        try:
            code, text = await self._read(future)
        except _Lost as exc:
            return Reply(0, f"connection lost after the message was sent: {exc}", "lost")
        return Reply(code, text, "sent" if code < 400 else "data")

    async def quit(self) -> None:
        if not self.closed:
            with contextlib.suppress(_Lost, TimeoutError):
                await asyncio.wait_for(self.command(b"QUIT\r\n"), 5)
        self.transport.close()


class _SmtpConnection:
    def __init__(self, pipeline: _Pipeline) -> None:
        self.pipeline = pipeline

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        return await self.pipeline.send(sender, recipient, data)

    async def close(self) -> None:
        await self.pipeline.quit()


class SmtpTransport:
    """Connections to ``relay`` with aiosmtplib (see the module docstring)."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._context: ssl.SSLContext | None = None

    def describe(self) -> str:
        return self.relay.describe()

    def _tls_context(self) -> ssl.SSLContext:
        if self._context is None:  # loading the CA store takes 25 ms: once per transport
            context = ssl.create_default_context(cafile=self.relay.cafile)
            if not self.relay.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._context = context
        return self._context

    async def connect(self, source: str | None) -> Connection:
        """Open a session bound to ``source``.

        Raises
        ------
        ConnectionError
            The relay cannot be reached, refused the session, TLS or AUTH failed.
        """
        relay = self.relay
        password = relay.password or os.environ.get("WORKBENCH_RELAY_PASSWORD")
        smtp = aiosmtplib.SMTP(hostname=relay.host, port=relay.port, timeout=relay.timeout,
                               source_address=(source, 0) if source else None,
                               local_hostname=relay.helo, start_tls=False)
        raw: asyncio.Transport | None = None
        try:
            await smtp.connect()
            raw = smtp.transport if isinstance(smtp.transport, asyncio.Transport) else None  # a failed TLS handshake leaves it open
            await smtp.ehlo()
            if relay.starttls or (relay.starttls is None and smtp.supports_extension("starttls")):
                await smtp.starttls(tls_context=self._tls_context())
                await smtp.ehlo()  # the extensions offered inside TLS (AUTH, PIPELINING)
            if relay.username:
                await smtp.login(relay.username, password or "")
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            if raw is not None:
                raw.abort()  # a hard close: no TLS shutdown left waiting on a peer that gave up
                await asyncio.sleep(0)  # the loop closes the socket now, before a caller's loop may end
            raise ConnectionError(f"relay {relay.describe()} (from {source or 'default address'}): {exc}") from exc
        transport = smtp.transport
        assert isinstance(transport, asyncio.Transport)
        pipeline = _Pipeline(transport, smtp.supports_extension("pipelining"), relay.timeout)
        transport.set_protocol(pipeline)
        return _SmtpConnection(pipeline)


@dataclass
class RecordingTransport:
    """A transport that keeps what it is given (unit tests): ``reply(recipient)`` scripts the
    relay's answer (default 250); ``sent`` holds ``(source, sender, recipient, data)``."""

    reply: Callable[[str], Reply] | None = None
    sent: list[tuple[str | None, str, str, bytes]] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    max_open: int = 0

    def describe(self) -> str:
        return "recording transport"

    async def connect(self, source: str | None) -> Connection:
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        return _RecordingConnection(self, source)


class _RecordingConnection:
    def __init__(self, owner: RecordingTransport, source: str | None) -> None:
        self.owner, self.source = owner, source

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        await asyncio.sleep(0)
        reply = self.owner.reply(recipient) if self.owner.reply else Reply(250, "2.0.0 OK", "sent")
        if reply.ok or reply.uncertain:
            self.owner.sent.append((self.source, sender, recipient, data))
        return reply

    async def close(self) -> None:
        self.owner.open_now -= 1
