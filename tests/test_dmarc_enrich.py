"""Enrichment: organizational domains (public suffix list, RFC 9989 tree walk), reverse DNS
through the resolver seam, cached, and sending services."""

from __future__ import annotations

from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename
import pytest
from conftest import FIXTURES

from workbench.dmarc.enrich import (
    enrich,
    org_domain_psl,
    org_domain_treewalk,
    reverse_dns,
    service_of,
)
from workbench.store import Store
from workbench.store.loading import load_paths


class ZoneResolver:
    """A resolver over a dict of (name, type) -> [rdata text]: dnspython's ``resolve`` seam."""

    def __init__(self, records: dict[tuple[str, str], list[str]], fail: set[str] | None = None) -> None:
        self.records = {(n.rstrip(".").lower(), t): v for (n, t), v in records.items()}
        self.fail = fail or set()
        self.calls: list[tuple[str, str]] = []

    def resolve(self, qname: Any, rdtype: Any) -> list[Any]:
        name = str(qname).rstrip(".").lower()
        kind = str(rdtype)
        self.calls.append((name, kind))
        if name in self.fail:
            raise dns.resolver.LifetimeTimeout(timeout=1.0, errors=[])
        values = self.records.get((name, kind))
        if values is None:
            if any(n == name for n, _ in self.records):
                raise dns.resolver.NoAnswer
            raise dns.resolver.NXDOMAIN
        return [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), v) for v in values]


@pytest.mark.parametrize(
    ("domain", "org"),
    [("news.brightmart.example", "brightmart.example"), ("Mail.Google.COM.", "google.com"), ("a.b.example.co.uk", "example.co.uk"),
     ("foo.blogspot.com", "foo.blogspot.com"), ("com", None), ("", None)],
)
def test_org_domain_psl(domain: str, org: str | None) -> None:
    assert org_domain_psl(domain) == org


def dmarc(text: str) -> list[str]:
    return [f'"{text}"']


def test_tree_walk() -> None:
    resolver = ZoneResolver({
        ("_dmarc.brightmart.example", "TXT"): dmarc("v=DMARC1; p=none"),
        ("_dmarc.news.brightmart.example", "TXT"): dmarc("v=DMARC1; p=reject"),
        ("_dmarc.example", "TXT"): dmarc("v=DMARC1; p=reject; psd=y"),
        ("_dmarc.gov.example2", "TXT"): dmarc("v=DMARC1; p=reject; psd=y"),
        ("_dmarc.agency.gov.example2", "TXT"): dmarc("v=DMARC1; p=none; psd=n"),
    })
    # psd=y at the top: the organizational domain is the name just below it
    assert org_domain_treewalk("a.news.brightmart.example", resolver) == "brightmart.example"
    # psd=n wins
    assert org_domain_treewalk("x.y.agency.gov.example2", resolver) == "agency.gov.example2"
    # no record anywhere: the public suffix list's answer
    assert org_domain_treewalk("mail.nowhere.example3", ZoneResolver({})) == "nowhere.example3"
    # the fewest-labels record when no psd tag says otherwise
    only = ZoneResolver({("_dmarc.corp.example4", "TXT"): dmarc("v=DMARC1; p=none"),
                         ("_dmarc.a.corp.example4", "TXT"): dmarc("v=DMARC1; p=none")})
    assert org_domain_treewalk("b.a.corp.example4", only) == "corp.example4"
    assert org_domain_treewalk("tld", only) is None


def test_tree_walk_queries_at_most_eight_names() -> None:
    resolver = ZoneResolver({})
    org_domain_treewalk(".".join(f"l{i}" for i in range(15)) + ".example", resolver)
    assert len(resolver.calls) <= 8


def test_reverse_dns_statuses() -> None:
    resolver = ZoneResolver({
        (str(dns.reversename.from_address("192.0.2.10")), "PTR"): ["mta1.brightmart.example."],
        (str(dns.reversename.from_address("2001:db8::25")), "PTR"): ["o1.ptr1234.sendgrid.net."],
        (str(dns.reversename.from_address("192.0.2.12")), "A"): ["192.0.2.12"],
    }, fail={str(dns.reversename.from_address("192.0.2.13")).rstrip(".")})
    assert reverse_dns("192.0.2.10", resolver) == ("mta1.brightmart.example", "ok")
    assert reverse_dns("2001:db8::25", resolver) == ("o1.ptr1234.sendgrid.net", "ok")
    assert reverse_dns("192.0.2.11", resolver) == (None, "nxdomain")
    assert reverse_dns("192.0.2.12", resolver) == (None, "nodata")
    assert reverse_dns("192.0.2.13", resolver) == (None, "error")
    assert reverse_dns("not-an-ip", resolver) == (None, "error")


@pytest.mark.parametrize(
    ("ptr", "expected"),
    [("o1.ptr1234.sendgrid.net", ("sendgrid.net", "SendGrid")),
     ("mail-eopbgr80050.outbound.protection.outlook.com", ("outlook.com", "Microsoft 365")),
     ("a8-40.smtp-out.amazonses.com", ("amazonses.com", "Amazon SES")),
     ("mta1.brightmart.example", ("brightmart.example", None)), (None, (None, None))],
)
def test_service_of(ptr: str | None, expected: tuple[str | None, str | None]) -> None:
    assert service_of(ptr) == expected


def test_enrich_fills_and_caches(store: Store) -> None:
    load_paths(store, [FIXTURES / "dmarc"])
    result = enrich(store)
    assert result.domains > 5 and result.ips == 0
    orgs = dict(store.query("SELECT domain, org_domain FROM domain_org").rows())
    assert orgs["news.brightmart.example"] == "brightmart.example"
    assert orgs["mailer.spoof.example"] == "spoof.example"
    assert {"lists.example", "esp.example", "sendgrid.example"} <= set(orgs)
    assert store.counts()["ip_rdns"] == 0  # no resolver, no DNS
    ips = [r[0] for r in store.query("SELECT DISTINCT source_ip FROM dmarc_records UNION SELECT source_ip FROM dmarc_failures").rows() if r[0]]
    records = {(str(dns.reversename.from_address(ip)), "PTR"): [f"host{n}.sendgrid.net."] for n, ip in enumerate(ips[:2])}
    resolver = ZoneResolver(records)
    result = enrich(store, resolver)
    assert result.ips == len(ips) and result.ptr_found == 2 and result.domains == 0
    rows = store.query("SELECT ip, ptr, ptr_org_domain, service, status FROM ip_rdns ORDER BY ptr NULLS LAST").rows()
    assert rows[0][2:] == ("sendgrid.net", "SendGrid", "ok")
    assert {r[4] for r in rows[2:]} == {"nxdomain"}
    calls = len(resolver.calls)
    again = enrich(store, resolver)
    assert (again.ips, len(resolver.calls)) == (0, calls)  # cached: nothing asked twice
    flow = store.query("SELECT DISTINCT rdns_service, source_kind FROM dmarc_flow WHERE rdns_service IS NOT NULL").rows()
    assert flow == [("SendGrid", "known service")]


def test_enrich_with_tree_walk(store: Store) -> None:
    load_paths(store, [FIXTURES / "dmarc" / "rfc7489.xml"])
    resolver = ZoneResolver({("_dmarc.brightmart.example", "TXT"): dmarc("v=DMARC1; p=none"),
                             ("_dmarc.example", "TXT"): dmarc("v=DMARC1; p=reject; psd=y")})
    enrich(store, resolver, rdns=False, tree_walk=True)
    methods = set(store.query("SELECT DISTINCT method FROM domain_org")["method"].to_list())
    assert methods == {"treewalk"}
    assert store.scalar("SELECT org_domain FROM domain_org WHERE domain = 'news.brightmart.example'") == "brightmart.example"


def test_enrich_against_a_real_dns_server(store: Store, knot_server: Any) -> None:
    """Reverse DNS and the tree walk through the auth area's live resolver, against Knot on 127.0.0.1."""
    from workbench.auth.resolver import LiveResolver

    load_paths(store, [FIXTURES / "dmarc" / "rfc7489.xml", FIXTURES / "dmarc" / "rfc9990.xml"])
    zone = "\n".join([
        "10.2.0.192.in-addr.arpa. 300 IN PTR mta1.brightmart.example.",
        "66.113.0.203.in-addr.arpa. 300 IN PTR o1.ptr1234.sendgrid.net.",
        '_dmarc.brightmart.example. 300 IN TXT "v=DMARC1; p=none"',
        '_dmarc.example. 300 IN TXT "v=DMARC1; p=reject; psd=y"',
    ])
    host, port = knot_server(zone)
    resolver = LiveResolver([f"{host}:{port}"], timeout=2.0, lifetime=4.0)
    result = enrich(store, resolver, tree_walk=True)
    assert result.ips == 3 and result.ptr_found == 2
    rows = dict(store.query("SELECT ip, ptr FROM ip_rdns").rows())
    assert rows == {"192.0.2.10": "mta1.brightmart.example", "203.0.113.66": "o1.ptr1234.sendgrid.net", "2001:db8::25": None}
    assert store.scalar("SELECT service FROM ip_rdns WHERE ip = '203.0.113.66'") == "SendGrid"
    assert store.scalar("SELECT status FROM ip_rdns WHERE ip = '2001:db8::25'") == "nxdomain"
    assert store.scalar("SELECT org_domain FROM domain_org WHERE domain = 'news.brightmart.example'") == "brightmart.example"
