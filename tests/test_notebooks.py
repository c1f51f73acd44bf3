"""Every notebook under notebooks/ is committed thin and clean: no outputs or execution
counts, exactly one ``parameters``-tagged cell of literals, and a test that runs it under
Papermill."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    doc = json.loads(path.read_text())
    code = [c for c in doc["cells"] if c["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_of_literals(path: Path) -> None:
    doc = json.loads(path.read_text())
    tagged = [c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse("".join(tagged[0]["source"]))
    for node in tree.body:
        assert isinstance(node, ast.Assign | ast.AnnAssign), ast.dump(node)
        ast.literal_eval(node.value)  # raises on anything but literals


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_is_run_by_a_test(path: Path) -> None:
    runners = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_notebooks.py"
               and (path.name in (text := p.read_text()) or path.stem in text)
               and ("execute_notebook" in text or "run_notebook" in text or "render(" in text)]
    assert runners, f"no test runs {path.name} under Papermill"
