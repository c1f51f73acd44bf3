"""notebooks/08_campaign_send.ipynb: its parameters, a dry run and a real send on the small world."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm

from tests.conftest import ROOT
from tests.sending_helpers import maildir_messages

NOTEBOOK = ROOT / "notebooks" / "08_campaign_send.ipynb"


def test_parameters_are_declared() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert set(params) == {"db", "campaign", "segment", "template", "stream", "pool", "contacts", "dry_run", "limit",
                           "use_sink"}
    assert params["dry_run"]["default"] == "True" and params["limit"]["default"] == "1000"


def _run(store, tmp_path: Path, small_world: Path, monkeypatch, **params: object) -> dict:
    settings = store.settings
    store.close()
    monkeypatch.setenv("WORKBENCH_DATA", str(settings.data_dir))
    monkeypatch.setenv("WORKBENCH_ROOT", str(ROOT))
    out = tmp_path / f"08-{params.get('dry_run')}.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={
        "db": str(settings.db_path), "campaign": "news-nb", "segment": "newsletter", "template": "newsletter",
        "stream": "newsletter", "contacts": str(small_world / "audience" / "contacts.csv"), "limit": 15, **params},
        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    doc = json.loads(out.read_text())
    outputs = [o for c in doc["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    return {"doc": doc, "text": json.dumps(doc),
            "figures": [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]}


def test_dry_run_then_send(send_store, tmp_path, small_world, monkeypatch) -> None:
    settings = send_store.settings
    dry = _run(send_store, tmp_path, small_world, monkeypatch, dry_run=True)
    assert "dry run: nothing sent" in dry["text"] and "Plan of news-nb by provider" in dry["text"]
    assert len(dry["figures"]) == 2  # the plan, the (empty) ledger
    assert not (settings.data_dir / "sink" / "Maildir" / "new").exists()
    sent = _run(send_store, tmp_path, small_world, monkeypatch, dry_run=False)
    assert "15/15 done: 15 sent" in sent["text"] and "news-nb: messages by provider and status" in sent["text"]
    assert len(maildir_messages(settings.data_dir / "sink" / "Maildir")) == 15
    assert "human_open_rate" in sent["text"]  # the first KPIs table
