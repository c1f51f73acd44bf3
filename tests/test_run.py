"""Running audits: AuditSetup (offline, live, picklable), return-path domains, the public surface."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import pytest

import workbench.auth as auth
from workbench.auth.audit import DomainAudit, DomainSpec, audit, fetch_answers, run_audit
from workbench.auth.resolver import AsyncLiveResolver, LiveResolver, RecordsResolver
from workbench.auth.run import AuditRun, AuditSetup, audit_store_domains
from workbench.auth.web import AsyncWeb, OfflineWeb
from workbench.errors import ConfigError
from workbench.store import Store

ZONE = """
example.com. TXT "v=spf1 -all"
bounce.example.com. TXT "v=spf1 ip4:192.0.2.10 -all"
bounce.example.com. MX 10 mx.example.com.
mx.example.com. A 192.0.2.25
_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:d@example.com"
10.2.0.192.in-addr.arpa. PTR mta.example.com.
mta.example.com. A 192.0.2.10
"""


def test_public_surface_is_complete() -> None:
    assert len(set(auth.__all__)) == len(auth.__all__)
    for name in auth.__all__:
        assert hasattr(auth, name), name


def test_offline_setup(tmp_path: Path) -> None:
    (tmp_path / "a.zone").write_text(ZONE)
    setup = AuditSetup(zones=(str(tmp_path),))
    resolver, web = setup()
    assert setup.offline and isinstance(resolver, RecordsResolver) and isinstance(web, OfflineWeb)
    assert web.root == tmp_path / "web" and setup.describe() == f"offline zone files {tmp_path}"
    assert setup.sync_resolver() is resolver  # parsed once
    clone = pickle.loads(pickle.dumps(setup))
    assert clone.zones == setup.zones and clone()[0] is not resolver
    with pytest.raises(ConfigError, match="no zone file"):
        AuditSetup(zones=(str(tmp_path / "none"),))()


def test_live_setup() -> None:
    setup = AuditSetup(nameservers=("127.0.0.1:5353",), ca_bundle="/tmp/ca.pem", https_port=8443, timeout=0.5)
    resolver, web = setup()
    assert isinstance(resolver, AsyncLiveResolver) and isinstance(web, AsyncWeb)
    assert web.inner.port == 8443 and web.inner.ca_bundle == "/tmp/ca.pem"
    assert isinstance(setup.sync_resolver(), LiveResolver)
    assert setup.describe() == "live DNS 127.0.0.1:5353" and not setup.offline
    assert AuditSetup().describe() == "live DNS (system resolvers)"
    resolver.close()


def test_the_return_path_domain_carries_spf_and_mx() -> None:
    resolver = RecordsResolver.from_text(ZONE)
    spec = DomainSpec("example.com", (), (("192.0.2.10", "mta.example.com"),), "bounce.example.com",
                      checks=("spf", "dmarc", "rdns", "mx"))
    findings = audit(spec, fetch_answers(spec, resolver))
    assert {f.code for f in findings} == {"spf.ok", "dmarc.ok", "rdns.ok", "mx.ok"}
    assert {f.domain for f in findings} == {"example.com"}
    spf_ok = next(f for f in findings if f.code == "spf.ok")
    assert spf_ok.subject == "bounce.example.com"
    assert spf_ok.detail == "v=spf1 ip4:192.0.2.10 -all (0 lookups; 1 sending IP passes)"


def test_status_takes_the_worst_finding() -> None:
    resolver = RecordsResolver.from_text(ZONE)
    spec = DomainSpec("example.com", checks=("spf", "mx", "tls_rpt"))
    (result,) = run_audit([spec], lambda: (resolver, None))
    assert isinstance(result, DomainAudit)
    assert result.status() == {"spf": "ok", "mx": "warning", "tls_rpt": "info"}
    assert result.evidence and {r["rdtype"] for r in result.evidence} >= {"TXT", "MX"}


def test_audit_store_domains_without_saving(store: Store, tmp_path: Path, small_world: Path) -> None:
    from workbench.store.loading import load_paths

    load_paths(store, [small_world / "infrastructure.yaml"])
    setup = AuditSetup(zones=(str(small_world / "dns"),))
    run = audit_store_domains(store, setup, domains=["tx.brightmart.example"], keys_dir=small_world / ".keys",
                              today=date(2026, 11, 26), save=False)
    assert isinstance(run, AuditRun) and run.audit_id is None and run.errors >= 2
    data = run.as_dict()
    assert data["domains"][0]["domain"] == "tx.brightmart.example" and data["resolver"].startswith("offline")
    assert store.scalar("SELECT count(*) FROM auth_audits") == 0
    ready = audit_store_domains(store, setup, specs=[DomainSpec("tx.brightmart.example", checks=("dmarc",))], save=True)
    assert ready.audit_id is not None and store.scalar("SELECT count(*) FROM auth_findings") == len(ready.audits[0].findings)
