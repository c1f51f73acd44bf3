"""SPF: the record parser, macros, check_host on small zones, and the linter."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive
from workbench.auth.spf import check_host, check_host_async, parse_record
from workbench.auth.spf.check import domain_name
from workbench.auth.spf.lint import lint_spf, split_strings, suggest_record
from workbench.auth.spf.macro import MacroContext, MacroSyntaxError, expand
from workbench.auth.spf.record import SpfSyntaxError, is_spf_record


@pytest.mark.parametrize("text, terms", [
    ("v=spf1 -all", [("-", "all", "")]),
    ("V=SPF1 ip4:192.0.2.0/24 ~all", [("+", "ip4", "192.0.2.0"), ("~", "all", "")]),
    ("v=spf1 a mx/24 ptr:example.com ?exists:%{i}.bl.example -all",
     [("+", "a", ""), ("+", "mx", ""), ("+", "ptr", "example.com"), ("?", "exists", "%{i}.bl.example"), ("-", "all", "")]),
    ("v=spf1 ip6:2001:db8::/32 a:mail.example.com/28//64 -all",
     [("+", "ip6", "2001:db8::"), ("+", "a", "mail.example.com"), ("-", "all", "")]),
])
def test_parse_record_terms(text: str, terms: list[tuple[str, str, str]]) -> None:
    record = parse_record(text)
    assert [(m.qualifier, m.name, m.value) for m in record.mechanisms] == terms


def test_parse_record_modifiers_and_cidrs() -> None:
    record = parse_record("v=spf1 a:mail.example.com/28//64 redirect=_spf.example.com exp=why.example.com foo=bar")
    mech = record.mechanisms[0]
    assert (mech.cidr4, mech.cidr6) == (28, 64)
    assert record.redirect == "_spf.example.com" and record.exp == "why.example.com"
    assert [m.name for m in record.modifiers] == ["redirect", "exp", "foo"]
    assert [t.name for t in record.lookup_terms()] == ["a", "redirect"]


@pytest.mark.parametrize("text, why", [
    ("v=spf1 ip4:192.0.2.0/33 -all", "CIDR"),
    ("v=spf1 ip4:192.0.2 -all", "bad address"),
    ("v=spf1 ip6:192.0.2.1 -all", "bad address"),
    ("v=spf1 include: -all", "empty"),
    ("v=spf1 include:example -all", "top-level"),
    ("v=spf1 a:foo.example.123 -all", "top-level"),
    ("v=spf1 ptr/24 -all", "CIDR"),
    ("v=spf1 all:foo", "no argument"),
    ("v=spf1 redirect=a.example redirect=b.example", "twice"),
    ("v=spf1 frobnicate -all", "unknown"),
    ("v=spf1 1up=foo", "unknown"),
    ("v=spf1 exists:%{q}.example -all", "macro"),
    ("v=spf1 exists:%(i).example -all", "macro escape"),
    ("v=spf1 a:\u00e9.example.com -all", "ASCII"),
    ("v=spf1 a\rptr -all", "control"),
    ("v=spf10 -all", "not an SPF record"),
])
def test_parse_record_errors(text: str, why: str) -> None:
    with pytest.raises(SpfSyntaxError, match=why):
        parse_record(text)


def test_is_spf_record() -> None:
    assert is_spf_record("v=spf1") and is_spf_record(b"v=spf1 -all") and is_spf_record("V=SPF1 a")
    assert not is_spf_record("v=spf10") and not is_spf_record("spf1") and not is_spf_record("v=DMARC1")


@pytest.mark.parametrize("macro, expected", [
    ("%{s}", "strong-bad@email.example.com"),
    ("%{o}", "email.example.com"),
    ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"),
    ("%{d3}", "email.example.com"),
    ("%{d2}", "example.com"),
    ("%{d1}", "com"),
    ("%{dr}", "com.example.email"),
    ("%{d2r}", "example.email"),
    ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"),
    ("%{lr-}", "bad.strong"),
    ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%%%_%-", "% %20"),
    ("%{L}", "strong-bad"),
    ("%{S}", "strong-bad%40email.example.com"),
])
def test_macro_expansion_rfc7208_examples(macro: str, expected: str) -> None:
    ctx = MacroContext(ip="192.0.2.3", sender="strong-bad@email.example.com", domain="email.example.com", helo="mx.example.org")
    assert expand(macro, ctx) == expected


def test_macro_ipv6_and_exp_only_letters() -> None:
    ctx = MacroContext(ip="2001:db8::cb01", sender="strong-bad@email.example.com", domain="email.example.com",
                       helo="mx.example.org", receiver="mx.receiver.example", timestamp=1234)
    assert expand("%{ir}.%{v}._spf.%{d2}", ctx) == (
        "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com")
    assert expand("%{c} via %{r} at %{t}", ctx, exp=True) == "2001:db8::cb01 via mx.receiver.example at 1234"
    with pytest.raises(MacroSyntaxError):
        expand("%{c}", ctx)
    with pytest.raises(MacroSyntaxError):
        expand("%{d0}", ctx)


def test_domain_name_validation() -> None:
    assert domain_name("example.com.").to_text() == "example.com."
    assert domain_name("single") is None
    assert domain_name("a..example.com") is None
    assert domain_name("x" * 64 + ".example.com") is None


ZONE = """
example.com.           TXT "v=spf1 ip4:192.0.2.0/24 a:mail.example.com mx include:_spf.esp.example -all"
mail.example.com.      A 198.51.100.7
example.com.           MX 10 mx.example.com.
mx.example.com.        A 198.51.100.25
mx.example.com.        AAAA 2001:db8::25
_spf.esp.example.      TXT "v=spf1 ip4:203.0.113.0/24 ~all"
soft.example.          TXT "v=spf1 ~all"
two.example.           TXT "v=spf1 -all"
two.example.           TXT "v=spf1 +all"
broken.example.        TXT "v=spf1 ip4:300.1.1.1 -all"
redir.example.         TXT "v=spf1 redirect=example.com"
badredir.example.      TXT "v=spf1 redirect=nowhere.example"
exp.example.           TXT "v=spf1 -all exp=why.exp.example"
why.exp.example.       TXT "%{i} is not one of %{d}'s hosts"
ptr.example.           TXT "v=spf1 ptr -all"
7.100.51.198.in-addr.arpa. PTR mail.ptr.example.
mail.ptr.example.      A 198.51.100.7
voids.example.         TXT "v=spf1 a:n1.example a:n2.example a:n3.example -all"
"""


@pytest.fixture(scope="module")
def resolver() -> RecordsResolver:
    return RecordsResolver.from_text(ZONE)


@pytest.mark.parametrize("ip, mailfrom, helo, result", [
    ("192.0.2.9", "a@example.com", "mx.example.org", "pass"),
    ("198.51.100.7", "a@example.com", "mx.example.org", "pass"),  # a:
    ("198.51.100.25", "a@example.com", "mx.example.org", "pass"),  # mx
    ("2001:db8::25", "a@example.com", "mx.example.org", "pass"),  # mx, IPv6
    ("::ffff:192.0.2.9", "a@example.com", "mx.example.org", "pass"),  # IPv4-mapped
    ("203.0.113.5", "a@example.com", "mx.example.org", "pass"),  # include
    ("198.18.0.1", "a@example.com", "mx.example.org", "fail"),
    ("198.18.0.1", "a@soft.example", "mx.example.org", "softfail"),
    ("198.18.0.1", "a@two.example", "mx.example.org", "permerror"),
    ("198.18.0.1", "a@broken.example", "mx.example.org", "permerror"),
    ("192.0.2.9", "a@redir.example", "mx.example.org", "pass"),
    ("192.0.2.9", "a@badredir.example", "mx.example.org", "permerror"),
    ("192.0.2.9", "a@nowhere.example", "mx.example.org", "none"),
    ("192.0.2.9", "", "example.com", "pass"),  # HELO identity
    ("198.51.100.7", "a@ptr.example", "mx.example.org", "pass"),
    ("198.18.0.1", "a@voids.example", "mx.example.org", "permerror"),
    ("not-an-ip", "a@example.com", "mx.example.org", "permerror"),
])
def test_check_host(resolver: RecordsResolver, ip: str, mailfrom: str, helo: str, result: str) -> None:
    assert check_host(ip, mailfrom, helo, resolver=resolver).result == result


def test_check_host_explanation_and_async(resolver: RecordsResolver) -> None:
    assert check_host("198.18.0.1", "a@exp.example", "h.example", resolver=resolver) == (
        "fail", "198.18.0.1 is not one of exp.example's hosts")
    assert "not allowed" in check_host("198.18.0.1", "a@example.com", "h.example", resolver=resolver).explanation

    class Async:
        async def resolve(self, qname, rdtype):
            return resolver.resolve(qname, rdtype)

    assert asyncio.run(check_host_async("203.0.113.5", "a@example.com", "h.example", Async())).result == "pass"


def test_temperror_on_timeout() -> None:
    r = RecordsResolver.from_text('example.com. TXT "v=spf1 include:slow.example -all"')
    r.add_timeout("slow.example")
    result = check_host("192.0.2.1", "a@example.com", "h.example", resolver=r)
    assert result.result == "temperror" and "slow.example" in result.explanation


def lint(zone: str, domain: str, ips: list[tuple[str, str]] | None = None):
    return drive(lint_spf(domain, ips or []), RecordsResolver.from_text(textwrap.dedent(zone)))


def codes(result) -> list[str]:
    return sorted(f.code for f in result.findings)


def test_lint_counts_lookups_through_the_include_tree() -> None:
    includes = " ".join(f"include:i{i}.esp.example" for i in range(6))
    zone = [f'big.example. TXT "v=spf1 {includes} -all"']
    for i in range(6):
        zone.append(f'i{i}.esp.example. TXT "v=spf1 include:j{i}.esp.example ip4:10.{i}.0.0/16 -all"')
        zone.append(f'j{i}.esp.example. TXT "v=spf1 ip4:10.{100 + i}.0.0/16 -all"')
    result = lint("\n".join(zone), "big.example", [("10.0.0.1", "")])
    assert result.lookups == 12
    over = next(f for f in result.findings if f.code == "spf.too_many_lookups")
    assert "12 DNS-querying terms" in over.detail
    assert result.flattened is not None and result.flattened.startswith("v=spf1 ip4:10.0.0.0/16")
    assert result.flattened.endswith("-all") and "include:" not in result.flattened
    assert check_host("10.0.0.1", "a@big.example", "h", resolver=RecordsResolver.from_text("\n".join(zone))).result == "pass"
    assert check_host("192.0.2.1", "a@big.example", "h", resolver=RecordsResolver.from_text("\n".join(zone))).result == "permerror"


def test_lint_flags_all_qualifiers_ptr_and_missing_include() -> None:
    zone = """
    open.example. TXT "v=spf1 +all"
    neutral.example. TXT "v=spf1 ip4:192.0.2.1 ?all"
    bare.example. TXT "v=spf1 ip4:192.0.2.1"
    ptr.example. TXT "v=spf1 ptr:example.net -all"
    gone.example. TXT "v=spf1 include:nowhere.example -all"
    redir.example. TXT "v=spf1 -all redirect=x.example"
    """
    assert "spf.pass_all" in codes(lint(zone, "open.example"))
    assert lint(zone, "open.example").findings[0].fix.endswith('"v=spf1 -all"')
    assert "spf.neutral_all" in codes(lint(zone, "neutral.example"))
    assert "spf.neutral_all" in codes(lint(zone, "bare.example"))
    assert "spf.ptr" in codes(lint(zone, "ptr.example"))
    assert {"spf.include_missing", "spf.void_lookup"} <= set(codes(lint(zone, "gone.example")))
    assert "spf.redirect_ignored" in codes(lint(zone, "redir.example"))


def test_lint_missing_multiple_syntax_and_our_ips() -> None:
    zone = """
    two.example. TXT "v=spf1 -all"
    two.example. TXT "v=spf1 a -all"
    bad.example. TXT "v=spf1 ip4:1.2.3 -all"
    ok.example. TXT "v=spf1 ip4:192.0.2.10 -all"
    """
    missing = lint(zone, "none.example", [("192.0.2.10", "mta1.example")])
    assert codes(missing) == ["spf.missing"] and 'TXT "v=spf1 ip4:192.0.2.10 -all"' in missing.findings[0].fix
    assert codes(lint(zone, "two.example")) == ["spf.multiple_records"]
    assert codes(lint(zone, "bad.example")) == ["spf.syntax"]
    result = lint(zone, "ok.example", [("192.0.2.10", "mta1"), ("192.0.2.11", "mta2")])
    (missing_ip,) = result.findings
    assert missing_ip.code == "spf.ip_not_authorized" and missing_ip.subject == "192.0.2.11"
    assert missing_ip.fix == 'ok.example. IN TXT "v=spf1 ip4:192.0.2.10 ip4:192.0.2.11 -all"'


def test_lint_void_limit_and_large_answers() -> None:
    zone = 'voids.example. TXT "v=spf1 a:n1.example a:n2.example mx:n3.example exists:n4.example -all"\n'
    zone += "".join(f'big.example. TXT "site-verification={"x" * 200}{i}"\n' for i in range(3))
    zone += 'big.example. TXT "v=spf1 -all"\n'
    voids = lint(zone, "voids.example")
    assert voids.voids == 4 and "spf.too_many_void_lookups" in codes(voids)
    assert "spf.large_answer" in codes(lint(zone, "big.example"))


def test_split_strings_and_suggest_record() -> None:
    record = suggest_record([f"10.0.{i}.0/24" for i in range(40)] + ["2001:db8::/32"], ["_spf.esp.example"])
    parts = split_strings(record)
    assert all(len(p) <= 255 for p in parts) and "".join(parts) == record and len(parts) > 1
    assert parse_record("".join(parts)).mechanisms[-1].name == "all"
    assert suggest_record(["192.0.2.1/32"], []) == "v=spf1 ip4:192.0.2.1 -all"
    assert split_strings("x" * 600) == ["x" * 255, "x" * 255, "x" * 90]
