"""A lean asynchronous DNS client: one UDP socket per nameserver, queries multiplexed by ID.

dnspython's async resolver opens a socket per query; auditing thousands of domains spends
more time there than in DNS. This client keeps one connected UDP socket per nameserver and
event loop, matches responses to questions by ID (and question), retries on timeout across
nameservers within a lifetime, falls back to TCP for truncated answers, and returns
dnspython objects (messages parsed by dnspython, answers with ``rrset`` and
``canonical_name``), raising dnspython's exceptions: callers cannot tell it from
:class:`dns.asyncresolver.Resolver`.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from workbench.auth.resolver import RecordAnswer, lifetime_timeout, no_nameservers

__all__ = ["UdpClient"]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.pending: dict[int, asyncio.Future[bytes]] = {}

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        future = self.pending.pop(int.from_bytes(data[:2], "big"), None)
        if future is not None and not future.done():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: the waiters time out
        pass


class UdpClient:
    """Queries ``nameservers`` (``(host, port)`` pairs) with per-try ``timeout`` and a total ``lifetime``."""

    def __init__(self, nameservers: list[tuple[str, int]], timeout: float = 2.0, lifetime: float = 5.0) -> None:
        self.nameservers = nameservers
        self.timeout = timeout
        self.lifetime = lifetime
        self._loop: asyncio.AbstractEventLoop | None = None
        self._endpoints: dict[tuple[str, int], tuple[asyncio.DatagramTransport, _Protocol]] = {}
        self._opening: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._next_id = random.randrange(65536)

    async def _endpoint(self, server: tuple[str, int]) -> tuple[asyncio.DatagramTransport, _Protocol]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.close()
            self._loop = loop
        if server not in self._endpoints:
            opening = self._opening.get(server)
            if opening is None:  # one socket per server, however many queries start at once
                opening = asyncio.ensure_future(loop.create_datagram_endpoint(_Protocol, remote_addr=server))
                self._opening[server] = opening
            transport, protocol = await opening
            self._endpoints.setdefault(server, (transport, protocol))
        return self._endpoints[server]

    def close(self) -> None:
        """Close the sockets (safe to call twice); call it before the event loop ends."""
        for transport, _ in self._endpoints.values():
            try:
                transport.close()
            except RuntimeError:  # its event loop already ended
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.close()
        self._endpoints.clear()
        self._opening.clear()

    def _id(self, protocol: _Protocol) -> int:
        for _ in range(65536):
            self._next_id = (self._next_id + 1) & 0xFFFF
            if self._next_id not in protocol.pending:
                return self._next_id
        raise dns.exception.DNSException("no free query id")  # type: ignore[no-untyped-call]  # pragma: no cover

    async def _exchange(self, request: dns.message.Message, server: tuple[str, int], timeout: float) -> dns.message.Message:
        transport, protocol = await self._endpoint(server)
        request.id = self._id(protocol)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        protocol.pending[request.id] = future
        transport.sendto(request.to_wire())
        try:
            data = await asyncio.wait_for(future, timeout)
        finally:
            protocol.pending.pop(request.id, None)
        response = dns.message.from_wire(data)
        if not request.is_response(response):
            raise dns.exception.FormError("a response to another question")  # type: ignore[no-untyped-call]
        if response.flags & dns.flags.TC:
            response = await dns.asyncquery.tcp(request, server[0], timeout=timeout, port=server[1])
        return response

    async def resolve(self, name: dns.name.Name, rdtype: int) -> RecordAnswer:
        """Ask the nameservers in turn until one answers or the lifetime ends.

        Raises
        ------
        dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers
            As dnspython's resolver raises them.
        """
        kind = dns.rdatatype.RdataType.make(rdtype)
        request = dns.message.make_query(name, kind)
        deadline = time.monotonic() + self.lifetime
        attempt = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise lifetime_timeout(self.lifetime)
            server = self.nameservers[attempt % len(self.nameservers)]
            attempt += 1
            try:
                response = await self._exchange(request, server, min(self.timeout, left))
            except (TimeoutError, dns.exception.FormError, OSError):
                continue
            rcode = response.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                raise dns.resolver.NXDOMAIN(qnames=[name], responses={name: response})  # type: ignore[no-untyped-call]
            if rcode != dns.rcode.NOERROR:
                raise no_nameservers(name, kind, dns.rcode.to_text(rcode))
            try:
                chain = response.resolve_chaining()  # type: ignore[attr-defined]
            except dns.message.ChainTooLong as exc:
                raise no_nameservers(name, kind, "The CNAME chain is too long.") from exc
            if chain.answer is None:
                raise dns.resolver.NoAnswer(response=response)  # type: ignore[no-untyped-call]
            return RecordAnswer(name, kind, chain.answer, chain.canonical_name)
