"""The SPF linter on include trees: counting, loops, macros, redirects, and flattening that keeps every IP."""

from __future__ import annotations

import ipaddress
import random
import textwrap

import pytest

from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive
from workbench.auth.spf import check_host
from workbench.auth.spf.lint import lint_spf


def lint(zone: str, domain: str, ips: list[tuple[str, str]] | None = None, mailfrom: str | None = None):
    return drive(lint_spf(domain, ips or [], mailfrom=mailfrom), RecordsResolver.from_text(textwrap.dedent(zone)))


def codes(result) -> list[str]:
    return sorted(f.code for f in result.findings)


@pytest.mark.parametrize("record, lookups", [
    ("v=spf1 -all", 0),
    ("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", 0),
    ("v=spf1 a mx -all", 2),
    ("v=spf1 a:h.example mx:h.example ptr exists:h.example -all", 4),
    ("v=spf1 include:inc.example -all", 2),  # the include and the a inside it
    ("v=spf1 redirect=inc.example", 2),
    ("v=spf1 -all redirect=inc.example", 0),  # redirect after all: never evaluated
])
def test_lookup_counts(record: str, lookups: int) -> None:
    zone = f"""
    d.example. TXT "{record}"
    d.example. A 192.0.2.1
    d.example. MX 10 h.example.
    h.example. A 192.0.2.2
    inc.example. TXT "v=spf1 a:h.example -all"
    """
    assert lint(zone, "d.example").lookups == lookups


def test_include_loops_are_reported_not_followed() -> None:
    zone = """
    a.example. TXT "v=spf1 include:b.example -all"
    b.example. TXT "v=spf1 include:a.example -all"
    """
    result = lint(zone, "a.example")
    assert "spf.too_many_lookups" in codes(result)
    assert check_host("192.0.2.1", "x@a.example", "h", resolver=RecordsResolver.from_text(textwrap.dedent(zone))).result == "permerror"


def test_macros_make_the_count_a_lower_bound() -> None:
    zone = 'm.example. TXT "v=spf1 exists:%{i}.bl.example include:%{d}.x.example -all"'
    result = lint(zone, "m.example")
    assert result.lookups == 2 and result.complete is False


def test_dns_errors_in_the_tree() -> None:
    resolver = RecordsResolver.from_text('t.example. TXT "v=spf1 include:slow.example -all"\n')
    resolver.add_timeout("slow.example")
    result = drive(lint_spf("t.example", []), resolver)
    assert "spf.dns_error" in codes(result)
    top = RecordsResolver()
    top.add_timeout("u.example")
    assert codes(drive(lint_spf("u.example", []), top)) == ["spf.dns_error"]


def test_nested_syntax_errors_and_multiple_records_are_found() -> None:
    zone = """
    p.example. TXT "v=spf1 include:bad.example include:two.example -all"
    bad.example. TXT "v=spf1 ip4:nonsense -all"
    two.example. TXT "v=spf1 -all"
    two.example. TXT "v=spf1 +all"
    """
    assert {"spf.syntax", "spf.multiple_records"} <= set(codes(lint(zone, "p.example")))


def test_the_envelope_sender_is_used_for_our_ips() -> None:
    zone = 'bounce.example. TXT "v=spf1 ip4:192.0.2.5 -all"\n'
    ok = lint(zone, "bounce.example", [("192.0.2.5", "mta.example")], mailfrom="b+123@bounce.example")
    assert codes(ok) == []
    temp = RecordsResolver.from_text('t.example. TXT "v=spf1 a:slow.example -all"\n')
    temp.add_timeout("slow.example", "A")
    result = drive(lint_spf("t.example", [("192.0.2.5", "mta")]), temp)
    assert "spf.ip_temperror" in codes(result)


def test_flattening_keeps_every_authorised_address() -> None:
    """Property: an address the original tree passes, the flattened record passes too."""
    rng = random.Random(7)
    nets = [ipaddress.ip_network(f"10.{i}.{rng.randrange(256)}.0/24") for i in range(12)]
    lines = [f'top.example. TXT "v=spf1 {" ".join(f"include:i{i}.example" for i in range(6))} a:web.example ~all"',
             "web.example. A 192.0.2.80", "web.example. AAAA 2001:db8::80"]
    for i in range(6):
        lines.append(f'i{i}.example. TXT "v=spf1 ip4:{nets[2 * i]} include:j{i}.example -all"')
        lines.append(f'j{i}.example. TXT "v=spf1 ip4:{nets[2 * i + 1]} -all"')
    zone = "\n".join(lines)
    result = lint(zone, "top.example")
    assert result.lookups == 13 and result.flattened is not None and result.flattened.endswith("~all")
    flat = RecordsResolver.from_text(f'top.example. TXT {" ".join(chr(34) + s + chr(34) for s in [result.flattened])}')
    original = RecordsResolver.from_text(zone)
    samples = [str(net[rng.randrange(1, 255)]) for net in nets] + ["192.0.2.80", "2001:db8::80", "172.16.0.1"]
    before = {ip: check_host(ip, "x@top.example", "h", resolver=original).result for ip in samples}
    assert before["172.16.0.1"] == "permerror"  # a stranger walks the whole tree: over the limit
    assert before[samples[0]] == "pass"  # the first include matches before the limit
    assert "permerror" in {before[s] for s in samples[8:12]}  # late includes hit the limit
    for ip in samples:
        assert check_host(ip, "x@top.example", "h", resolver=flat).result == ("pass" if ip != "172.16.0.1" else "softfail"), ip
