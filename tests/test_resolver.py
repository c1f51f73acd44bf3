"""The resolver seam: zone-file answers, live answers from a real Knot DNS server, parity."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import dns.resolver
import pytest

from workbench.auth.resolver import (
    AsyncLiveResolver,
    LiveResolver,
    RecordsResolver,
    nameserver_spec,
)
from workbench.errors import ConfigError

ZONE = """
$ORIGIN brightmart.example.
$TTL 300
@            IN TXT   "v=spf1 include:_spf.esp.example -all"
@            IN MX    10 mx1
mx1          IN A     192.0.2.25
alias        IN CNAME mx1
loop1        IN CNAME loop2
loop2        IN CNAME loop1
*.wild       IN TXT   "wildcard"
deep.ent.sub IN A     192.0.2.99
long         IN TXT   "a" "b"
$ORIGIN esp.example.
_spf         IN TXT   "v=spf1 ip4:198.51.100.0/24 -all"
$ORIGIN 2.0.192.in-addr.arpa.
25           IN PTR   mx1.brightmart.example.
"""

QUESTIONS = [
    ("brightmart.example", "TXT"),
    ("brightmart.example", "MX"),
    ("alias.brightmart.example", "A"),
    ("x.wild.brightmart.example", "TXT"),
    ("x.wild.brightmart.example", "A"),
    ("ent.sub.brightmart.example", "A"),
    ("nothere.brightmart.example", "TXT"),
    ("brightmart.example", "AAAA"),
    ("_spf.esp.example", "TXT"),
    ("25.2.0.192.in-addr.arpa", "PTR"),
    ("loop1.brightmart.example", "A"),
    ("long.brightmart.example", "TXT"),
]


def outcome(resolver: object, qname: str, rdtype: str) -> object:
    try:
        answer = resolver.resolve(qname, rdtype)  # type: ignore[attr-defined]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        return type(exc).__name__
    return sorted(rd.to_text() for rd in answer)


def test_records_resolver_answers_like_an_authoritative_server() -> None:
    r = RecordsResolver.from_text(ZONE)
    assert outcome(r, "brightmart.example", "TXT") == ['"v=spf1 include:_spf.esp.example -all"']
    assert outcome(r, "BrightMart.Example.", "MX") == ["10 mx1.brightmart.example."]
    assert outcome(r, "alias.brightmart.example", "A") == ["192.0.2.25"]
    assert r.resolve("alias.brightmart.example", "A").canonical_name.to_text() == "mx1.brightmart.example."
    assert outcome(r, "x.wild.brightmart.example", "TXT") == ['"wildcard"']
    assert outcome(r, "x.wild.brightmart.example", "A") == "NoAnswer"
    assert outcome(r, "ent.sub.brightmart.example", "A") == "NoAnswer"  # an empty non-terminal
    assert outcome(r, "nothere.brightmart.example", "TXT") == "NXDOMAIN"
    assert outcome(r, "loop1.brightmart.example", "A") == "NoNameservers"
    assert outcome(r, "long.brightmart.example", "TXT") == ['"a" "b"']
    assert outcome(r, "25.2.0.192.in-addr.arpa", "PTR") == ["mx1.brightmart.example."]


def test_records_resolver_timeouts_and_added_records() -> None:
    r = RecordsResolver()
    r.add("example.com", "TXT", '"v=spf1 -all"')
    r.add_timeout("slow.example.com")
    r.add_timeout("half.example.com", "TXT")
    r.add("half.example.com", "A", "192.0.2.1")
    assert outcome(r, "example.com", "TXT") == ['"v=spf1 -all"']
    assert outcome(r, "slow.example.com", "A") == "LifetimeTimeout"
    assert outcome(r, "half.example.com", "TXT") == "LifetimeTimeout"
    assert outcome(r, "half.example.com", "A") == ["192.0.2.1"]
    assert [n.to_text() for n in r.names()] == ["com.", "example.com.", "half.example.com.", "slow.example.com."]


def test_zone_files_from_folder_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.zone").write_text(ZONE)
    (tmp_path / "b.zone").write_text('other.example. 60 IN TXT "hello"\n')
    r = RecordsResolver.from_zone_files([tmp_path])
    assert outcome(r, "other.example", "TXT") == ['"hello"']
    assert outcome(r, "mx1.brightmart.example", "A") == ["192.0.2.25"]
    assert "a.zone" in r.describe() and "b.zone" in r.describe()
    with pytest.raises(ConfigError, match="no zone file"):
        RecordsResolver.from_zone_files([tmp_path / "missing"])
    (tmp_path / "bad.zone").write_text("this is not a zone\n")
    with pytest.raises(ConfigError, match=r"bad\.zone"):
        RecordsResolver.from_zone_files([tmp_path / "bad.zone"])


def test_nameserver_spec() -> None:
    assert (nameserver_spec("127.0.0.1").address, nameserver_spec("127.0.0.1").port) == ("127.0.0.1", 53)
    ns = nameserver_spec("127.0.0.1:5353")
    assert (ns.address, ns.port) == ("127.0.0.1", 5353)
    ns6 = nameserver_spec("[::1]:5300")
    assert (ns6.address, ns6.port) == ("::1", 5300)
    assert nameserver_spec("::1").address == "::1"
    with pytest.raises(ConfigError, match="port"):
        nameserver_spec("127.0.0.1:dns")


def test_live_resolver_against_knot_matches_the_zone_file(knot_server) -> None:
    host, port = knot_server(ZONE)
    live = LiveResolver([f"{host}:{port}"], timeout=1.0, lifetime=2.0)
    offline = RecordsResolver.from_text(ZONE)
    for qname, rdtype in QUESTIONS:
        assert outcome(live, qname, rdtype) == outcome(offline, qname, rdtype), (qname, rdtype)
    assert "127.0.0.1" in live.describe()


def test_async_live_resolver_shares_requests_and_caches(knot_server) -> None:
    host, port = knot_server(ZONE)
    resolver = AsyncLiveResolver([host], port=port, timeout=1.0, lifetime=2.0)

    async def ask() -> list[object]:
        answers = await asyncio.gather(*(resolver.resolve("_spf.esp.example", "TXT") for _ in range(20)))
        with pytest.raises(dns.resolver.NXDOMAIN):
            await resolver.resolve("nothere.brightmart.example", "TXT")
        with pytest.raises(dns.resolver.NXDOMAIN):  # cached failure, raised again
            await resolver.resolve("nothere.brightmart.example", "TXT")
        resolver.close()
        return [sorted(rd.to_text() for rd in a) for a in answers]

    results = asyncio.run(ask())
    assert all(r == ['"v=spf1 ip4:198.51.100.0/24 -all"'] for r in results)
    assert resolver.queries == 2


@pytest.mark.parametrize("transport", ["udp", "dnspython"])
def test_async_transports_answer_like_the_zone(knot_server, transport: str) -> None:
    host, port = knot_server(ZONE)
    resolver = AsyncLiveResolver([f"{host}:{port}"], timeout=1.0, lifetime=2.0, transport=transport)
    offline = RecordsResolver.from_text(ZONE)

    async def ask() -> list[object]:
        got = []
        for qname, rdtype in QUESTIONS:
            try:
                answer = await resolver.resolve(qname, rdtype)
                got.append(sorted(rd.to_text() for rd in answer))
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers,
                    dns.resolver.LifetimeTimeout) as exc:
                got.append(type(exc).__name__)
        resolver.close()
        return got

    assert asyncio.run(ask()) == [outcome(offline, q, t) for q, t in QUESTIONS]


def test_udp_transport_times_out_then_uses_the_next_server(knot_server) -> None:
    host, port = knot_server(ZONE)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        dead = f"127.0.0.1:{silent.getsockname()[1]}"
        resolver = AsyncLiveResolver([dead, f"{host}:{port}"], timeout=0.1, lifetime=2.0)
        alone = AsyncLiveResolver([dead], timeout=0.05, lifetime=0.15, retries=0)

        async def ask() -> tuple[list[str], str]:
            answer = await resolver.resolve("mx1.brightmart.example", "A")
            try:
                await alone.resolve("mx1.brightmart.example", "A")
                failed = "answered"
            except dns.resolver.LifetimeTimeout:
                failed = "LifetimeTimeout"
            resolver.close()
            alone.close()
            return [rd.to_text() for rd in answer], failed

        assert asyncio.run(ask()) == (["192.0.2.25"], "LifetimeTimeout")
    finally:
        silent.close()


def test_live_resolver_times_out_and_retries() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        port = silent.getsockname()[1]
        live = LiveResolver([f"127.0.0.1:{port}"], timeout=0.05, lifetime=0.1, retries=1)
        with pytest.raises(dns.resolver.LifetimeTimeout):
            live.resolve("brightmart.example", "TXT")
        received = 0
        silent.settimeout(0.01)
        while True:
            try:
                silent.recv(512)
                received += 1
            except TimeoutError:
                break
        assert received >= 2  # the query, then its retry
    finally:
        silent.close()


def test_live_resolver_caches_for_its_lifetime() -> None:
    from tests.knot import KnotServer

    server = KnotServer(ZONE)
    live = LiveResolver([server.nameserver], timeout=0.2, lifetime=0.4, retries=0)
    try:
        assert outcome(live, "mx1.brightmart.example", "A") == ["192.0.2.25"]
    finally:
        server.stop()
    assert outcome(live, "mx1.brightmart.example", "A") == ["192.0.2.25"]  # from the cache
    assert outcome(live, "brightmart.example", "MX") == "LifetimeTimeout"  # the server is gone
