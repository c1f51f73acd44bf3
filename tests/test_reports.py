"""Reports: the notebooks under Papermill on the small world, their parameters, failures
that name the cell, the index, the HTML export and the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import nbformat
import papermill
import pytest
from click.testing import CliRunner

from workbench.cli import cli
from workbench.config import Settings
from workbench.reports import ReportError, list_runs, notebook_parameters, run_notebook
from workbench.reports.html import plotly_bundles
from workbench.reports.index import render_index
from workbench.reports.runner import coerce, declared_type, find_notebook
from workbench.store import Store

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[12]_*.ipynb"))
#: the parameters the CLI and the demo pass, per notebook
EXPECTED = {
    "01_deliverability_overview": {"db", "start", "end", "days", "top", "providers"},
    "02_reputation": {"db", "start", "end", "days"},
}
DAY = date(2026, 11, 27)  # REPORT_DAY of conftest.rendered


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_are_what_the_cli_passes(path: Path) -> None:
    declared = papermill.inspect_notebook(str(path))
    assert set(declared) == EXPECTED[path.stem]
    assert declared["db"]["inferred_type_name"] == "str" and declared["days"]["inferred_type_name"] == "int"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_clean_and_thin(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "setup()" in code[1].source
    assert not any("def " in c.source or "for " in c.source for c in code)


def test_both_notebooks_run_into_dated_reports(rendered: dict[str, object]) -> None:
    out = Path(str(rendered["out"]))
    for name in EXPECTED:
        nb = nbformat.read(out / DAY.isoformat() / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert "days = 21" in injected[0].source and "db = " in injected[0].source
        page = (out / DAY.isoformat() / f"{name}.html").read_text(encoding="utf-8")
        assert plotly_bundles(page) == 1
        assert "cdnjs.cloudflare" not in page and 'src="http' not in page
        assert page.count('class="plotly-graph-div"') >= 3


def test_the_reputation_report_shows_the_flag(rendered: dict[str, object]) -> None:
    page = (Path(str(rendered["out"])) / DAY.isoformat() / "02_reputation.html").read_text(encoding="utf-8")
    assert "192.0.2.11" in page and "critical" in page and "bulk-sender limit 0.3" in page


def test_runs_are_listed_in_the_index(rendered: dict[str, object]) -> None:
    out = Path(str(rendered["out"]))
    runs = list_runs(out)
    assert {r["name"] for r in runs} >= set(EXPECTED) and all(r["status"] == "ok" for r in runs)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{DAY.isoformat()}/02_reputation.html"' in index
    result = CliRunner().invoke(cli, ["report", "list", "--out", str(out), "--json"], obj={})
    assert result.exit_code == 0 and {r["name"] for r in json.loads(result.output)} >= set(EXPECTED)


def test_a_failing_cell_is_named_and_recorded(world_store: Store, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x: int = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("y = x + 1"),
                nbformat.v4.new_code_cell("raise ValueError(f'broken {y}')")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    settings = Settings.load(root=ROOT, db_path=world_store.path, reports_dir=tmp_path / "reports")
    with pytest.raises(ReportError, match=r"cell 3 .*ValueError: broken 6") as info:
        run_notebook(path, {"x": "5"}, settings=settings, day=DAY)
    assert info.value.cell == 3 and "raise ValueError" in str(info.value) and info.value.run is not None and info.value.run.status == "failed"
    assert list_runs(tmp_path / "reports")[-1]["status"] == "failed"
    assert "failed" in (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", "run", str(path), "--out", str(tmp_path / "r2"), "--no-html"], obj={})
    assert result.exit_code == 1 and "cell 3" in result.output


def test_unknown_notebooks_and_parameters_are_refused(world_store: Store, tmp_path: Path) -> None:
    settings = Settings.load(root=ROOT, db_path=world_store.path, reports_dir=tmp_path)
    with pytest.raises(ReportError, match="available: 01_deliverability_overview"):
        find_notebook("nope", settings)
    with pytest.raises(ReportError, match="no parameter colour; it declares: db"):
        run_notebook("reputation", {"colour": "red"}, settings=settings)
    with pytest.raises(ReportError, match="not a int"):
        run_notebook("reputation", {"days": "many"}, settings=settings)
    assert find_notebook("overview", settings).stem == "01_deliverability_overview"
    assert set(notebook_parameters(find_notebook("02", settings))) == EXPECTED["02_reputation"]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [("7", "int", 7), ("0.5", "float", 0.5), ("yes", "bool", True), ("false", "bool", False), ("[1, 2]", "list", [1, 2]),
     ("x", "str", "x"), (3, "int", 3)],
)
def test_coerce_table(value: object, kind: str, expected: object) -> None:
    assert coerce(value, kind) == expected


@pytest.mark.parametrize(("param", "expected"), [({"inferred_type_name": "int"}, "int"), ({"inferred_type_name": "None", "default": "28"}, "int"),
                                                 ({"inferred_type_name": "None", "default": '""'}, "str"), ({"default": "a b"}, "str")])
def test_declared_type_table(param: dict[str, str], expected: str) -> None:
    assert declared_type(param) == expected


def test_index_escapes_what_it_shows() -> None:
    page = render_index([{"name": "<b>x</b>", "status": "failed", "error": "<script>", "started": "t", "parameters": {"a": "<i>"}}])
    assert "<script>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "no report has run yet" in render_index([])


def test_kpi_and_reputation_commands(world_store: Store) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(world_store.path), "kpi", "--by", "provider,week", "--where", "provider=gmail", "--json"], obj={})
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and {r["provider"] for r in rows} == {"gmail"} and "complaint_rate_lo" in rows[0]
    csv = runner.invoke(cli, ["--db", str(world_store.path), "kpi", "--by", "ip", "--csv"], obj={})
    assert csv.exit_code == 0 and csv.output.splitlines()[0].startswith("ip,messages,sent")
    bad = runner.invoke(cli, ["--db", str(world_store.path), "kpi", "--by", "colour"], obj={})
    assert bad.exit_code == 1 and "unknown dimension" in bad.output
    rep = runner.invoke(cli, ["--db", str(world_store.path), "reputation", "--fail-on", "critical", "--json"], obj={})
    assert rep.exit_code == 3
    assert any(f["entity"] == "192.0.2.11" and f["severity"] == "critical" for f in json.loads(rep.output)["flags"])
    ok = runner.invoke(cli, ["--db", str(world_store.path), "reputation", "--level", "subdomain", "--fail-on", "critical"], obj={})
    assert ok.exit_code == 0, ok.output
