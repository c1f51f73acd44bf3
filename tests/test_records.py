"""Records to publish and the DKIM rotation plan: the snippet parses and audits clean."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from workbench.auth.audit import DomainSpec, audit, fetch_answers
from workbench.auth.dkim_keys import generate_key
from workbench.auth.records import next_selector, records_for, rotation_plan
from workbench.auth.resolver import RecordsResolver


def test_records_for_a_new_subdomain_parse_and_pass_the_audit(tmp_path: Path) -> None:
    key = generate_key("shop.example.com", "sh2026", keys_dir=tmp_path).info()
    spec = DomainSpec("shop.example.com", ("sh2026", "esp1"), (("192.0.2.20", "mta3.example.com"), ("2001:db8::20", "mta3.example.com")),
                      None, {"sh2026": key})
    text = records_for(spec, includes=("_spf.esp.example",), today=date(2026, 11, 26))
    assert 'shop.example.com.' in text and "include:_spf.esp.example" in text and "ip6:2001:db8::20" in text
    assert "; esp1._domainkey.shop.example.com: no key of ours" in text
    assert '"v=STSv1; id=20261126T000000"' in text and "mx1.example.com." in text
    zone = text + ('_spf.esp.example. TXT "v=spf1 ip4:198.51.100.0/24 -all"\n'
                   "mx1.example.com. A 192.0.2.25\n20.2.0.192.in-addr.arpa. PTR mta3.example.com.\n"
                   "mta3.example.com. A 192.0.2.20\n")
    resolver = RecordsResolver.from_text(zone)
    checks = DomainSpec(spec.domain, ("sh2026",), (("192.0.2.20", "mta3.example.com"),), None, {"sh2026": key},
                        checks=("spf", "dkim", "dmarc", "rdns", "mx", "tls_rpt"))
    findings = audit(checks, fetch_answers(checks, resolver), today=date(2026, 11, 26))
    assert {f.code for f in findings if f.severity in ("error", "warning")} == set()
    assert {"spf.ok", "dkim.ok", "dmarc.ok", "rdns.ok", "mx.ok", "tls_rpt.ok"} <= {f.code for f in findings}


def test_records_for_a_domain_with_nothing_known() -> None:
    text = records_for(DomainSpec("new.example.org"), today=date(2026, 11, 26))
    assert '"v=spf1 -all"' in text and "no sending IP known" in text and "dkim keygen new.example.org --selector s202611" in text
    assert RecordsResolver.from_text(text).resolve("_dmarc.new.example.org", "TXT")


def test_rotation_plan(tmp_path: Path) -> None:
    old = generate_key("news.example.com", "bm2025", keys_dir=tmp_path).info()
    steps = rotation_plan("news.example.com", old, today=date(2026, 11, 26))
    assert [s.day for s in steps] == [date(2026, 11, 26), date(2026, 11, 28), date(2026, 12, 5), date(2027, 1, 4)]
    assert "--selector bm202611" in steps[0].record
    assert steps[2].record == 'bm2025._domainkey.news.example.com. 3600 IN TXT "v=DKIM1; k=rsa; p="'
    first = rotation_plan("news.example.com", None, new_selector="k1", today=date(2026, 11, 26))
    assert len(first) == 2 and "--selector k1" in first[0].record
    assert next_selector("s2", date(2026, 3, 1)) == "s202603" and next_selector("2024", date(2026, 3, 1)) == "s202603"
