"""notebooks/03_dmarc.ipynb: its parameters, and a run on a small store."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
from conftest import ROOT

from workbench.store import Store

NOTEBOOK = ROOT / "notebooks" / "03_dmarc.ipynb"


def test_parameters() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert {k: v["default"] for k, v in params.items()} == {"db": '""', "days": "30", "domain": '""'}


def test_runs_on_a_small_store(dmarc_world_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "03_dmarc.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"db": str(dmarc_world_store.path), "days": 60,
                                                              "domain": "brightmart.example"},
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) >= 6
    text = json.dumps(outputs)
    assert "notify.brightmart.example" in text and "not ready: own mail fails" in text
    assert "203.0.113.66" in text  # the spoofer heads the senders that are not ours
