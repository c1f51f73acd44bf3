"""notebooks/07_segment_experiment.ipynb: its parameters, and the verdict on the planted world."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import papermill as pm
from conftest import ROOT

from workbench.store import Store

NOTEBOOK = ROOT / "notebooks" / "07_segment_experiment.ipynb"


def test_parameters_are_declared() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert set(params) == {"db", "groups", "rules", "by", "metric", "where", "days", "end", "alpha", "correction"}
    assert params["metric"]["default"] == '"human_click_rate"' and params["by"]["default"] == '"segment"'


def _run(db: Path, out: Path, **parameters: object) -> str:
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"db": str(db), **parameters}, kernel_name="python3",
                        progress_bar=False, cwd=str(out.parent))
    doc = json.loads(out.read_text())
    outputs = [o for c in doc["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len([o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]) == 1
    return "".join("".join(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {}))


def test_the_planted_segment_clicks_more(planted_world: Store, tmp_path: Path) -> None:
    planted_world.release(force=True)
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(planted_world.path, db)
    verdict = _run(db, tmp_path / "07.ipynb")  # the defaults: others vs paris_25_34, newsletter clicks
    assert "Verdict: the human click rate of paris_25_34 is really higher than that of others" in verdict
    # nothing was planted between two signup sources, nor in the promotions
    verdict = _run(db, tmp_path / "07b.ipynb", groups=["website", "checkout"], rules={})
    assert "Verdict: no detectable difference" in verdict
    verdict = _run(db, tmp_path / "07c.ipynb", where={"stream": "promotions"}, rules={})
    assert "Verdict: no detectable difference" in verdict
