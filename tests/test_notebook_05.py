"""Notebook 05: parameters, and a Papermill run on a tiny store with an audit in it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import papermill

from tests.conftest import ROOT
from workbench.auth.audit import DomainAudit, DomainSpec
from workbench.auth.findings import finding
from workbench.auth.store import save_audit
from workbench.store import Store

NOTEBOOK = ROOT / "notebooks" / "05_auth_audit.ipynb"


def test_parameters() -> None:
    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert set(params) == {"db_path", "since_days", "min_severity"}
    assert params["db_path"]["default"] == '"data/workbench.duckdb"'


def test_runs_on_a_tiny_store(store: Store, tmp_path: Path) -> None:
    def run(domain: str, *codes: str) -> DomainAudit:
        return DomainAudit(DomainSpec(domain), [finding(c, domain, subject=domain) for c in codes], [])

    save_audit(store, [run("news.example.com", "spf.ok", "dkim.key_mismatch"), run("tx.example.com", "dmarc.policy_none")],
               "offline test", datetime.now(UTC).replace(tzinfo=None) - timedelta(days=10))
    save_audit(store, [run("news.example.com", "spf.ok", "dkim.ok"), run("tx.example.com", "dmarc.policy_none", "mx.missing")],
               "offline test", datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1))
    store.close()
    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"db_path": str(store.path), "since_days": 7},
                               kernel_name="python3", progress_bar=False, cwd=str(ROOT))
    executed = json.loads(out.read_text())
    text = json.dumps(executed["cells"])
    assert "dmarc.policy_none" in text and "mx.missing" in text
    assert "resolved" in text and "dkim.key_mismatch" in text  # the change since the earlier audit
    assert "application/vnd.plotly.v1+json" in text
