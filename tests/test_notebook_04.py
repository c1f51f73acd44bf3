"""notebooks/04_bounces_complaints.ipynb: its parameters, and a run on the small world."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
from conftest import ROOT

from workbench.store import Store

NOTEBOOK = ROOT / "notebooks" / "04_bounces_complaints.ipynb"


def test_parameters_are_declared() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert set(params) == {"db", "days", "end", "period", "dimensions", "complaints_by", "top"}
    assert params["days"]["default"] == "90"
    assert params["period"]["default"] == '"week"'


def test_runs_on_the_small_world(world_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "04.ipynb"
    world_store.release(force=True)
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={
        "db": str(world_store.settings.db_path), "days": 60, "period": "week", "dimensions": ["provider", "campaign"],
        "complaints_by": "ip", "top": 5}, kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    doc = json.loads(out.read_text())
    outputs = [o for c in doc["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 4  # two reason charts, the complaint rate, the suppressions
    text = json.dumps(doc)
    assert "Complaint rate by ip" in text and "0.3 % limit" in text
