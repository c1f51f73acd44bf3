"""DMARC: records, the organizational domain, the tree walk, report authorization, alignment."""

from __future__ import annotations

import textwrap

import pytest

from workbench.auth.dmarc import (
    DmarcSyntaxError,
    aligned,
    check_dmarc,
    discover,
    organizational_domain,
    parse_record,
)
from workbench.auth.resolver import RecordsResolver
from workbench.auth.sansio import drive


def test_parse_record_defaults_and_tags() -> None:
    rec = parse_record("v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; "
                       "rua=mailto:a@example.com, mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1; t=y; psd=n")
    assert (rec.p, rec.sp, rec.np, rec.adkim, rec.aspf, rec.testing, rec.psd) == ("reject", "quarantine", "reject", "s", "r", True, "n")
    assert rec.rua == ("mailto:a@example.com", "mailto:b@example.net!10m") and rec.ruf == ("mailto:f@example.com",)
    assert rec.subdomain_policy == "quarantine" and rec.pct == 100
    plain = parse_record("v=DMARC1; p=none")
    assert (plain.adkim, plain.aspf, plain.rua, plain.subdomain_policy) == ("r", "r", (), "none")
    assert parse_record("v=DMARC1; rua=mailto:a@example.com").p == "none"  # RFC 7489 §6.6.3
    assert parse_record("v=DMARC1; p=none; foo=bar").unknown_tags() == ["foo"]


@pytest.mark.parametrize("text, why", [
    ("p=none; v=DMARC1", "starts with"),
    ("v=DMARC2; p=none", "starts with"),
    ("v=DMARC1; p=block", "p="),
    ("v=DMARC1", "p="),
    ("v=DMARC1; p=none; sp=maybe", "sp="),
    ("v=DMARC1; p=none; adkim=x", "adkim"),
    ("v=DMARC1; p=none; pct=abc", "pct"),
    ("v=DMARC1; p=none; pct=150", "between"),
    ("v=DMARC1; p=none; garbage", "tag=value"),
])
def test_parse_record_errors(text: str, why: str) -> None:
    with pytest.raises(DmarcSyntaxError, match=why):
        parse_record(text)


@pytest.mark.parametrize("domain, org", [
    ("news.brightmart.example", "brightmart.example"),
    ("brightmart.example", "brightmart.example"),
    ("a.b.example.co.uk", "example.co.uk"),
    ("mail.google.com", "google.com"),
    ("Foo.Example.COM.", "example.com"),
])
def test_organizational_domain(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


def test_alignment_modes() -> None:
    assert aligned("bounce.news.example.com", "example.com", "r")
    assert not aligned("bounce.news.example.com", "example.com", "s")
    assert aligned("Example.com.", "example.com", "s")
    assert not aligned("example.net", "example.com", "r")


ZONE = """
_dmarc.example.com.                 TXT "v=DMARC1; p=reject; rua=mailto:d@example.com,mailto:x@reports.vendor.example; ruf=http://bad.example/f"
_dmarc.tx.example.com.              TXT "v=DMARC1; p=none"
_dmarc.legacy.example.com.          TXT "v=DMARC1; p=quarantine; pct=25; rf=afrf; ri=3600; rua=mailto:d@example.com"
_dmarc.weak.example.com.            TXT "v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com"
_dmarc.two.example.com.             TXT "v=DMARC1; p=none"
_dmarc.two.example.com.             TXT "v=DMARC1; p=reject"
_dmarc.bad.example.com.             TXT "v=DMARC1; p=maybe"
_dmarc.authorized.example.          TXT "v=DMARC1; p=reject; rua=mailto:r@reports.vendor.example"
authorized.example._report._dmarc.reports.vendor.example. TXT "v=DMARC1"
_dmarc.testing.example.             TXT "v=DMARC1; p=quarantine; t=y; rua=mailto:d@testing.example"
"""


def run(domain: str, **kwargs: str):
    return drive(check_dmarc(domain, **kwargs), RecordsResolver.from_text(textwrap.dedent(ZONE)))


def codes(findings) -> set[str]:
    return {f.code for f in findings}


def test_discovery_walks_up_the_tree() -> None:
    resolver = RecordsResolver.from_text(textwrap.dedent(ZONE))
    assert drive(discover("a.b.c.news.example.com"), resolver)[0] == "example.com"
    assert drive(discover("tx.example.com"), resolver)[0] == "tx.example.com"
    where, records, status = drive(discover("nothing.example.org"), resolver)
    assert (where, records, status) == (None, [], "none")
    long_name = ".".join(f"l{i}" for i in range(10)) + ".example.com"
    asked = []

    class Recording:
        def resolve(self, qname, rdtype):
            asked.append(str(qname))
            return resolver.resolve(qname, rdtype)

    assert drive(discover(long_name), Recording())[0] == "example.com"
    assert asked[1] == "_dmarc.l5.l6.l7.l8.l9.example.com."  # shortened to 7 labels, then one at a time


def test_check_dmarc_findings() -> None:
    findings, record = run("example.com")
    assert record is not None and record.p == "reject"
    assert codes(findings) == {"dmarc.external_unauthorized", "dmarc.bad_uri"}
    unauthorized = next(f for f in findings if f.code == "dmarc.external_unauthorized")
    assert unauthorized.subject == "example.com._report._dmarc.reports.vendor.example"
    assert unauthorized.fix.endswith('example.com._report._dmarc.reports.vendor.example. IN TXT "v=DMARC1"')
    tx, _ = run("tx.example.com")
    assert codes(tx) == {"dmarc.policy_none", "dmarc.no_rua"}
    assert "p=quarantine" in next(f for f in tx if f.code == "dmarc.policy_none").fix
    legacy, _ = run("legacy.example.com")
    assert codes(legacy) == {"dmarc.removed_tag", "dmarc.pct_partial"}
    assert sorted(f.detail.split(": ")[1] for f in legacy if f.code == "dmarc.removed_tag") == ["pct=25", "rf=afrf", "ri=3600"]
    assert codes(run("weak.example.com")[0]) == {"dmarc.subdomain_weaker"}
    assert codes(run("two.example.com")[0]) == {"dmarc.multiple_records"}
    assert codes(run("bad.example.com")[0]) == {"dmarc.syntax"}
    assert codes(run("nothing.example.org")[0]) == {"dmarc.missing"}
    assert codes(run("authorized.example")[0]) == set()
    assert codes(run("testing.example")[0]) == {"dmarc.testing"}


def test_check_dmarc_inherits_and_checks_alignment() -> None:
    findings, record = run("news.example.com", envelope_domain="bounces.esp.example", dkim_domain="esp.example")
    assert record is not None
    assert {"dmarc.inherited", "dmarc.spf_not_aligned", "dmarc.dkim_not_aligned"} <= codes(findings)
    aligned_ok, _ = run("news.example.com", envelope_domain="bounce.example.com", dkim_domain="news.example.com")
    assert "dmarc.spf_not_aligned" not in codes(aligned_ok) and "dmarc.dkim_not_aligned" not in codes(aligned_ok)


def test_check_dmarc_dns_error() -> None:
    resolver = RecordsResolver()
    resolver.add_timeout("_dmarc.slow.example")
    findings, record = drive(check_dmarc("slow.example"), resolver)
    assert record is None and codes(findings) == {"dmarc.dns_error"}
