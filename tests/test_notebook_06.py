"""notebooks/06_segment_explorer.ipynb: its parameters, and a run on the planted world."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import papermill as pm
from conftest import ROOT

from workbench.store import Store

NOTEBOOK = ROOT / "notebooks" / "06_segment_explorer.ipynb"


def test_parameters_are_declared() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert set(params) == {"db", "name", "rule", "days", "end", "every_days", "period", "attributes", "metrics", "where"}
    assert params["name"]["default"] == '"paris_25_34"' and params["days"]["default"] == "90"


def test_runs_with_a_new_rule(planted_world: Store, tmp_path: Path) -> None:
    planted_world.release(force=True)
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(planted_world.path, db)
    out = tmp_path / "06.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={
        "db": str(db), "name": "lyon_openers", "days": 28, "every_days": 14, "period": "week",
        "rule": {"all": [{"attribute": "city", "equals": "Lyon"}, {"engagement": "opened", "within_days": 30}]},
        "attributes": ["age_band", "provider"], "metrics": ["human_click_rate"], "where": {"stream": "newsletter"}},
        kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    doc = json.loads(out.read_text())
    outputs = [o for c in doc["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 4  # size, two compositions, one KPI
    text = json.dumps(doc)
    assert "segment 'lyon_openers'" in text and "human click rate: lyon_openers and all mail" in text
    store = Store(db)
    assert len(store.query("SELECT * FROM segment_runs WHERE segment = 'lyon_openers'")) == 3  # two weeks apart, and the end
