"""The whole audit: the synthetic world's zone offline and served by Knot (with MTA-STS over HTTPS)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import WORLD_END
from tests.https_server import HttpsServer
from workbench.auth.audit import DomainSpec, audit, fetch_answers, run_audit
from workbench.auth.resolver import RecordsResolver
from workbench.auth.run import AuditSetup
from workbench.auth.store import domain_specs
from workbench.auth.web import OfflineWeb
from workbench.errors import AuthAuditError

TODAY = WORLD_END


@pytest.fixture(scope="session")
def world_specs(small_world: Path, world_store) -> list[DomainSpec]:
    return domain_specs(world_store, keys_dir=small_world / ".keys")


@pytest.fixture(scope="session")
def offline_run(small_world: Path, world_specs: list[DomainSpec]) -> dict[str, list]:
    setup = AuditSetup(zones=(str(small_world / "dns"),))
    audits = run_audit(world_specs, setup, today=TODAY)
    return {a.domain: a.findings for a in audits}


@pytest.fixture(scope="session")
def https_world(small_world: Path, tmp_path_factory: pytest.TempPathFactory):
    web = small_world / "dns" / "web"
    docs = {("mta-sts.brightmart.example", "/.well-known/mta-sts.txt"):
            ("text/plain", (web / "mta-sts.brightmart.example" / ".well-known" / "mta-sts.txt").read_bytes()),
            ("brightmart.example", "/bimi/logo.svg"): ("image/svg+xml", (web / "brightmart.example" / "bimi" / "logo.svg").read_bytes())}
    server = HttpsServer(tmp_path_factory.mktemp("tls"), docs, ["mta-sts.brightmart.example", "brightmart.example"])
    yield server
    server.stop()


def live_zone(small_world: Path) -> str:
    """The world's zone with its web host moved to 127.0.0.1, where the test HTTPS server runs."""
    text = (small_world / "dns" / "brightmart.example.zone").read_text()
    return text.replace("IN A 192.0.2.80", "IN A 127.0.0.1")


def codes(findings: list) -> set[str]:
    return {f.code for f in findings}


def test_offline_audit_finds_the_planted_faults(offline_run: dict[str, list]) -> None:
    assert set(offline_run) == {"brightmart.example", "contact.brightmart.example", "news.brightmart.example",
                                "notify.brightmart.example", "tx.brightmart.example"}
    contact, news, tx = offline_run["contact.brightmart.example"], offline_run["news.brightmart.example"], offline_run["tx.brightmart.example"]
    over = next(f for f in contact if f.code == "spf.too_many_lookups")
    assert over.severity == "error" and over.detail.startswith("15 DNS-querying terms") and "v=spf1 ip4:" in over.fix
    mismatch = [f for f in news if f.code == "dkim.key_mismatch"]
    assert [f.subject for f in mismatch] == ["bm2025._domainkey.news.brightmart.example"]
    assert "p=MIIB" in mismatch[0].fix  # the record to publish: our key
    assert {"dmarc.policy_none", "dmarc.no_rua"} <= codes(tx)
    fcrdns = [f for f in news if f.code == "rdns.not_forward_confirmed"]
    assert [f.subject for f in fcrdns] == ["192.0.2.11"] and "192.0.2.12" in fcrdns[0].detail
    assert fcrdns[0].fix == "mta2.brightmart.example. IN A 192.0.2.11"


def test_offline_audit_has_no_false_alarms(offline_run: dict[str, list]) -> None:
    root = offline_run["brightmart.example"]
    assert {f.code for f in root if f.severity in ("error", "warning")} == set()
    assert {"spf.ok", "dkim.ok", "dmarc.ok", "mx.ok", "mta_sts.ok", "tls_rpt.ok", "bimi.ok"} <= codes(root)
    news = offline_run["news.brightmart.example"]
    assert "spf.ok" in codes(news) and "dmarc.ok" in codes(news)
    dkim_ok = [f.subject for f in news if f.code == "dkim.ok"]
    assert "bm2026._domainkey.news.brightmart.example" in dkim_ok
    contact = offline_run["contact.brightmart.example"]
    assert "spf.ip_not_authorized" not in codes(contact)  # SendGrid's IPs pass through the first include
    assert {f.subject for f in contact if f.code == "dkim.no_private_key"} == {
        "s1._domainkey.contact.brightmart.example", "s2._domainkey.contact.brightmart.example"}
    assert "dmarc.inherited" in codes(contact) and "dmarc.external_unauthorized" not in codes(contact)
    notify = offline_run["notify.brightmart.example"]
    assert {"dmarc.removed_tag", "dmarc.pct_partial"} <= codes(notify)


def test_audit_against_knot_and_https_matches_the_offline_audit(knot_server, small_world: Path, world_specs, https_world,
                                                                offline_run) -> None:
    host, port = knot_server(live_zone(small_world))
    setup = AuditSetup(nameservers=(f"{host}:{port}",), ca_bundle=str(https_world.ca), https_port=https_world.port,
                       timeout=1.0, lifetime=3.0)
    live = {a.domain: a for a in run_audit(world_specs, setup, today=TODAY)}
    for domain, findings in offline_run.items():
        assert sorted((f.code, f.subject) for f in live[domain].findings) == sorted((f.code, f.subject) for f in findings), domain
    assert ("mta-sts.brightmart.example", "/.well-known/mta-sts.txt") in https_world.requests
    assert ("brightmart.example", "/bimi/logo.svg") in https_world.requests
    evidence = {(r["qname"], r["rdtype"]): r for r in live["news.brightmart.example"].evidence}
    assert evidence[("news.brightmart.example", "TXT")]["records"] == ['"v=spf1 ip4:192.0.2.10 ip4:192.0.2.11 -all"']
    assert evidence[("_mta-sts.news.brightmart.example", "TXT")]["status"] == "nxdomain"


def test_https_fetch_refuses_an_untrusted_certificate(knot_server, small_world: Path, world_specs, https_world) -> None:
    host, port = knot_server(live_zone(small_world))
    root = [s for s in world_specs if s.domain == "brightmart.example"]
    setup = AuditSetup(nameservers=(f"{host}:{port}",), https_port=https_world.port, timeout=1.0, lifetime=3.0)
    (only,) = run_audit(root, setup, today=TODAY)
    unreachable = [f for f in only.findings if f.code == "mta_sts.policy_unreachable"]
    assert unreachable and "certificate" in unreachable[0].detail
    assert "bimi.svg_unreachable" in codes(only.findings)


def test_audit_is_pure_replay_of_fetched_answers(small_world: Path, world_specs) -> None:
    resolver = RecordsResolver.from_zone_files([small_world / "dns"])
    web = OfflineWeb(small_world / "dns" / "web")
    spec = next(s for s in world_specs if s.domain == "news.brightmart.example")
    answers = fetch_answers(spec, resolver, web, today=TODAY)
    assert len(answers) > 10
    first = audit(spec, answers, today=TODAY)
    assert audit(spec, answers, today=TODAY) == first
    (single_pass,) = run_audit([spec], lambda: (resolver, web), today=TODAY)
    assert single_pass.findings == first  # run_audit's one pass finds what the pure replay finds
    other = next(s for s in world_specs if s.domain == "contact.brightmart.example")
    with pytest.raises(AuthAuditError, match="was not fetched"):
        audit(other, answers, today=TODAY)


def test_checks_can_be_selected_and_an_empty_spec_audits(small_world: Path) -> None:
    resolver = RecordsResolver.from_zone_files([small_world / "dns"])
    spec = DomainSpec("tx.brightmart.example", checks=("dmarc",))
    findings = audit(spec, fetch_answers(spec, resolver))
    assert {f.check for f in findings} == {"dmarc"}
    nothing = DomainSpec("nowhere.example")
    found = codes(audit(nothing, fetch_answers(nothing, resolver, OfflineWeb(small_world / "dns" / "web"))))
    assert {"spf.missing", "dmarc.missing", "mx.missing", "mta_sts.missing", "tls_rpt.missing", "bimi.missing"} <= found


def test_run_audit_over_two_processes_gives_the_same_findings(small_world: Path, world_specs, offline_run) -> None:
    setup = AuditSetup(zones=(str(small_world / "dns"),))
    specs = world_specs * 2
    renamed = [DomainSpec(s.domain, s.selectors, s.ips, s.return_path, s.keys, s.esp) for s in specs]
    audits = run_audit(renamed, setup, today=TODAY, processes=2)
    assert [a.domain for a in audits][:5] == [s.domain for s in world_specs]
    for a in audits:
        assert sorted(f.code for f in a.findings) == sorted(f.code for f in offline_run[a.domain])


def test_key_age_uses_the_day_given(small_world: Path, world_specs) -> None:
    spec = next(s for s in world_specs if s.domain == "tx.brightmart.example")
    setup = AuditSetup(zones=(str(small_world / "dns"),))
    (young,) = run_audit([spec], setup, today=date(2025, 12, 1))
    (old,) = run_audit([spec], setup, today=TODAY)
    assert "dkim.key_old" not in codes(young.findings)
    assert [f.subject for f in old.findings if f.code == "dkim.key_old"] == ["bm2025._domainkey.tx.brightmart.example"]
