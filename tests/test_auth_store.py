"""Audits in the store: migration 005, the domains to audit, history and what changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from workbench.auth.audit import DomainAudit, DomainSpec
from workbench.auth.findings import finding
from workbench.auth.store import (
    audit_history,
    domain_specs,
    finding_changes,
    latest_findings,
    load_sql_names,
    save_audit,
    status_grid,
)
from workbench.errors import ConfigError
from workbench.store import Store
from workbench.store.loading import load_paths

INFRA = """kind: workbench/infrastructure
version: 1
pools: [{name: dedicated, kind: dedicated}, {name: esp, kind: shared}]
ips:
  - {ip: 192.0.2.10, pool: dedicated, hostname: mta1.example.com}
  - {ip: 192.0.2.11, pool: dedicated, hostname: mta2.example.com}
  - {ip: 198.51.100.1, pool: esp, hostname: o1.esp.example}
domains:
  - {domain: example.com, purpose: corporate, dkim_selectors: [k1]}
  - {domain: news.example.com, parent: example.com, pool: dedicated, dkim_selectors: [k1, k2], return_path: bounce.example.com}
  - {domain: promo.example.com, parent: example.com, pool: esp, dkim_selectors: [s1]}
"""


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    path = tmp_path / "infrastructure.yaml"
    path.write_text(INFRA)
    load_paths(store, [path])
    return store


def test_migration_creates_the_audit_tables(store: Store) -> None:
    assert {"auth_audits", "auth_checks", "auth_findings", "auth_dns_answers"} <= set(store.tables())
    assert 5 in store.migrate()
    for name in load_sql_names():
        params = {"domains": None} if name == "auth_sending_domains" else {"min_severity": "info"} if "findings" in name \
            else {"since": datetime(2026, 1, 1)} if "changes" in name else None
        assert store.sql(name, params).is_empty()


def test_domain_specs_from_the_infrastructure(loaded: Store, tmp_path: Path) -> None:
    from workbench.auth.dkim_keys import generate_key

    generate_key("news.example.com", "k1", keys_dir=tmp_path / "keys")
    specs = {s.domain: s for s in domain_specs(loaded, keys_dir=tmp_path / "keys")}
    assert list(specs) == ["example.com", "news.example.com", "promo.example.com"]
    news = specs["news.example.com"]
    assert news.selectors == ("k1", "k2") and news.envelope == "bounce.example.com" and news.esp is None
    assert news.ips == (("192.0.2.10", "mta1.example.com"), ("192.0.2.11", "mta2.example.com"))
    assert list(news.keys) == ["k1"] and news.keys["k1"].bits == 2048
    assert specs["promo.example.com"].esp == "esp" and specs["example.com"].ips == ()
    assert [s.domain for s in domain_specs(loaded, ["NEWS.example.com."], tmp_path)] == ["news.example.com"]
    with pytest.raises(ConfigError, match=r"not sending domains: other\.example"):
        domain_specs(loaded, ["other.example"])


def test_domain_specs_needs_the_infrastructure(store: Store) -> None:
    with pytest.raises(ConfigError, match="load your infrastructure file"):
        domain_specs(store)


def run(domain: str, *codes: str) -> DomainAudit:
    findings = [finding(c, domain, subject=f"{domain}-subject") for c in codes]
    rows = [{"qname": domain, "rdtype": "TXT", "status": "ok", "records": ['"v=spf1 -all"']}]
    return DomainAudit(DomainSpec(domain), findings, rows)


def test_history_grid_findings_and_changes(store: Store) -> None:
    week_ago = datetime(2026, 11, 19, 9)
    first = save_audit(store, [run("a.example", "spf.ok", "dmarc.policy_none", "dmarc.no_rua"), run("b.example", "mx.missing")],
                       "offline test", week_ago, week_ago + timedelta(seconds=2))
    second = save_audit(store, [run("a.example", "spf.too_many_lookups", "dmarc.policy_none"), run("b.example", "mx.ok")],
                        "offline test", week_ago + timedelta(days=7))
    assert first != second
    grid = status_grid(store)
    assert grid.filter(grid["domain"] == "a.example")["spf"].to_list() == ["error"]
    assert grid.filter(grid["domain"] == "a.example")["dmarc"].to_list() == ["warning"]
    assert grid.filter(grid["domain"] == "b.example")["mx"].to_list() == ["ok"]
    findings = latest_findings(store, "warning")
    assert findings["code"].to_list() == ["spf.too_many_lookups", "dmarc.policy_none"]
    assert set(latest_findings(store, "ok")["code"]) >= {"mx.ok"}
    changes = finding_changes(store, since=week_ago + timedelta(days=1))
    got = sorted(zip(changes["change"], changes["domain"], changes["code"], strict=True))
    assert got == [("new", "a.example", "spf.too_many_lookups"), ("resolved", "a.example", "dmarc.no_rua"),
                   ("resolved", "b.example", "mx.missing")]
    history = audit_history(store)
    assert history["audit_id"].to_list() == [first, second]
    assert history["errors"].to_list() == [0, 1] and history["warnings"].to_list() == [3, 1]
    assert store.scalar("SELECT count(*) FROM auth_dns_answers") == 4
    everything_new = finding_changes(store, since=datetime(2000, 1, 1))
    assert set(everything_new["change"]) == {"new"}


def test_an_empty_store_has_an_empty_grid(store: Store) -> None:
    assert status_grid(store).columns == ["domain"] and status_grid(store).is_empty()
