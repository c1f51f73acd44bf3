"""The lean UDP transport: answers like dnspython, TCP for truncated answers, IDs matched, errors mapped."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from workbench.auth.resolver import AsyncLiveResolver, RecordsResolver
from workbench.auth.udp import UdpClient

BIG = " ".join(f'"{"x" * 200}{i}"' for i in range(6))
ZONE = f"""
big.example. 300 IN TXT {BIG}
a.example. 300 IN A 192.0.2.1
alias.example. 300 IN CNAME a.example.
loop1.example. 300 IN CNAME loop2.example.
loop2.example. 300 IN CNAME loop1.example.
""" + "".join(f"h{i}.example. 300 IN A 192.0.2.{i % 250 + 1}\n" for i in range(300))


def run(coro_factory: Callable[[], object]) -> object:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


def test_truncated_answers_are_fetched_over_tcp(knot_server) -> None:
    host, port = knot_server(ZONE)
    client = UdpClient([(host, port)], timeout=1.0, lifetime=3.0)

    async def ask():
        try:
            return await client.resolve(dns.name.from_text("big.example."), dns.rdatatype.TXT)
        finally:
            client.close()

    answer = run(ask)
    (record,) = answer.rrset
    assert len(record.strings) == 6  # more than 512 bytes: UDP was truncated, TCP got it all
    assert len(b"".join(record.strings)) > 1200


def test_many_concurrent_queries_share_one_socket_and_all_match(knot_server) -> None:
    host, port = knot_server(ZONE)
    resolver = AsyncLiveResolver([f"{host}:{port}"], timeout=1.0, lifetime=4.0)

    async def ask():
        answers = await asyncio.gather(*(resolver.resolve(f"h{i}.example", "A") for i in range(300)))
        endpoints = len(resolver._resolver._endpoints)
        resolver.close()
        resolver.close()  # twice is fine
        return [a.rrset[0].address for a in answers], endpoints

    addresses, endpoints = run(ask)
    assert addresses == [f"192.0.2.{i % 250 + 1}" for i in range(300)]
    assert endpoints == 1


def test_cname_answers_and_loops(knot_server) -> None:
    host, port = knot_server(ZONE)
    client = UdpClient([(host, port)], timeout=1.0, lifetime=3.0)

    async def ask():
        try:
            alias = await client.resolve(dns.name.from_text("alias.example."), dns.rdatatype.A)
            with pytest.raises(dns.resolver.NoNameservers):
                await client.resolve(dns.name.from_text("loop1.example."), dns.rdatatype.A)
            with pytest.raises(dns.resolver.NXDOMAIN):
                await client.resolve(dns.name.from_text("none.example."), dns.rdatatype.A)
            with pytest.raises(dns.resolver.NoAnswer):
                await client.resolve(dns.name.from_text("a.example."), dns.rdatatype.MX)
            return alias
        finally:
            client.close()

    alias = run(ask)
    assert alias.canonical_name.to_text() == "a.example." and alias.rrset[0].address == "192.0.2.1"


class FakeServer:
    """A UDP server answering from ``reply(query) -> list of wire responses``."""

    def __init__(self, reply: Callable[[dns.message.Message], list[bytes]]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            for wire in self.reply(dns.message.from_wire(data)):
                self.sock.sendto(wire, peer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def answer_a(query: dns.message.Message, qid: int | None = None, rcode: int = dns.rcode.NOERROR) -> bytes:
    response = dns.message.make_response(query)
    if rcode == dns.rcode.NOERROR:
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.7"))
    response.set_rcode(rcode)
    if qid is not None:
        response.id = qid
    return response.to_wire()


def test_responses_to_other_ids_are_ignored() -> None:
    server = FakeServer(lambda q: [answer_a(q, qid=(q.id + 1) & 0xFFFF), b"short", answer_a(q)])
    client = UdpClient([server.address], timeout=1.0, lifetime=2.0)

    async def ask():
        try:
            return await client.resolve(dns.name.from_text("x.example."), dns.rdatatype.A)
        finally:
            client.close()

    try:
        assert run(ask).rrset[0].address == "192.0.2.7"
    finally:
        server.close()


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED])
def test_server_failures_are_no_nameservers(rcode: int) -> None:
    server = FakeServer(lambda q: [answer_a(q, rcode=rcode)])
    client = UdpClient([server.address], timeout=1.0, lifetime=2.0)

    async def ask():
        try:
            await client.resolve(dns.name.from_text("x.example."), dns.rdatatype.A)
        finally:
            client.close()

    try:
        with pytest.raises(dns.resolver.NoNameservers, match=dns.rcode.to_text(rcode)):
            run(ask)
    finally:
        server.close()


def test_a_response_to_another_question_is_not_accepted() -> None:
    def wrong(q: dns.message.Message) -> list[bytes]:
        other = dns.message.make_query("other.example.", "A")
        other.id = q.id
        return [answer_a(other, qid=q.id)]

    server = FakeServer(wrong)
    client = UdpClient([server.address], timeout=0.1, lifetime=0.3)

    async def ask():
        try:
            await client.resolve(dns.name.from_text("x.example."), dns.rdatatype.A)
        finally:
            client.close()

    try:
        with pytest.raises(dns.resolver.LifetimeTimeout):
            run(ask)
    finally:
        server.close()


def test_the_client_follows_the_event_loop() -> None:
    server = FakeServer(lambda q: [answer_a(q)])
    client = UdpClient([server.address], timeout=1.0, lifetime=2.0)

    async def ask():
        try:
            return (await client.resolve(dns.name.from_text("x.example."), dns.rdatatype.A)).rrset[0].address
        finally:
            client.close()  # sockets belong to the loop: close them before it ends

    try:
        assert run(ask) == "192.0.2.7"
        assert run(ask) == "192.0.2.7"  # a second loop opens new sockets
    finally:
        server.close()


def test_records_resolver_and_udp_agree_on_failures(knot_server) -> None:
    host, port = knot_server(ZONE)
    offline = RecordsResolver.from_text(ZONE)
    resolver = AsyncLiveResolver([f"{host}:{port}"], timeout=1.0, lifetime=2.0)
    cases = [("loop1.example", "A"), ("none.example", "TXT"), ("a.example", "TXT"), ("alias.example", "A")]

    async def ask():
        got = []
        for name, kind in cases:
            try:
                got.append([rd.to_text() for rd in await resolver.resolve(name, kind)])
            except dns.exception.DNSException as exc:
                got.append(type(exc).__name__)
        resolver.close()
        return got

    expected = []
    for name, kind in cases:
        try:
            expected.append([rd.to_text() for rd in offline.resolve(name, kind)])
        except dns.exception.DNSException as exc:
            expected.append(type(exc).__name__)
    assert run(ask) == expected
