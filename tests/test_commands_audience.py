"""``workbench contacts …`` and ``workbench segment …`` on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from audience_world import AS_OF, build
from click.testing import CliRunner, Result
from conftest import ROOT

from workbench.cli import cli
from workbench.store import Store


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], obj={}, env={"COLUMNS": "250"}, catch_exceptions=False)


@pytest.fixture
def audience(store: Store) -> Store:
    build(store)
    store.close()
    return store


def _rule(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_contacts_import_reports_rejects(store: Store, tmp_path: Path) -> None:
    store.close()
    path = tmp_path / "c.csv"
    path.write_text("email,age,lists\na@x.example,30,newsletter\nnot-an-address,20,\nb@x.example,old,\n", encoding="utf-8")
    os.utime(path, (datetime(2026, 1, 1).timestamp(),) * 2)
    result = invoke(store.path, "contacts", "import", str(path))
    assert result.exit_code == 2
    assert "rejected rows (email 1, age 1)" in result.stdout
    assert "line 3" in result.stdout and "age: old is not a whole number" in result.stdout
    again = invoke(store.path, "contacts", "import", str(path), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["status"] == "skipped"
    shown = invoke(store.path, "contacts", "show", "A@x.example", "--json")
    data = json.loads(shown.stdout)
    assert data["age"] == 30 and data["lists"][0]["list_name"] == "newsletter" and data["history"] == []
    assert invoke(store.path, "contacts", "show", "nobody@x.example").exit_code == 1


def test_contacts_import_with_a_mapping(store: Store, tmp_path: Path) -> None:
    store.close()
    path = tmp_path / "fr.csv"
    path.write_text("Courriel,Ville\nann@x.example,Lyon\n", encoding="utf-8")
    result = invoke(store.path, "contacts", "import", str(path), "--map", "email=Courriel", "--map", "city=Ville", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 1
    assert json.loads(invoke(store.path, "contacts", "show", "ann@x.example", "--json").stdout)["city"] == "Lyon"


def test_segment_commands(audience: Store, tmp_path: Path) -> None:
    db = audience.path
    young = _rule(tmp_path, "young.yaml", "description: 25 to 34\nrule: {attribute: age, between: [25, 34]}\n")
    created = invoke(db, "segment", "create", "young", str(young), "--as-of", AS_OF.isoformat(), "--json")
    assert created.exit_code == 0 and json.loads(created.stdout)["size"] == 2
    assert json.loads(invoke(db, "segment", "size", str(young), "--as-of", AS_OF.isoformat(), "--json").stdout) == {"size": 2}
    assert invoke(db, "segment", "size", "young", "--as-of", AS_OF.isoformat()).stdout.strip() == "2"
    listed = json.loads(invoke(db, "segment", "list", "--json").stdout)
    assert [(s["name"], s["size"], s["runs"]) for s in listed] == [("young", 2, 1)]
    shown = invoke(db, "segment", "show", "young", "--sql")
    assert "description: 25 to 34" in shown.stdout and "BETWEEN $p" in shown.stdout
    exported = invoke(db, "segment", "export", "young")
    assert exported.stdout.splitlines()[0].startswith("contact_id,email") and len(exported.stdout.splitlines()) == 3
    target = tmp_path / "young.parquet"
    assert invoke(db, "segment", "export", "young", "--out", str(target)).exit_code == 0
    assert pl.read_parquet(target)["contact_id"].to_list() == ["A", "B"]
    refreshed = json.loads(invoke(db, "segment", "refresh", "--json").stdout)
    assert refreshed[0]["segment"] == "young" and refreshed[0]["size"] == 3  # as of now: G (28) signed up in July
    assert invoke(db, "segment", "delete", "young").exit_code == 0
    assert invoke(db, "segment", "delete", "young").exit_code == 1


def test_segment_errors_say_what_to_do(audience: Store, tmp_path: Path) -> None:
    bad = _rule(tmp_path, "bad.yaml", "rule: {attribute: shoe_size, equals: 42}\n")
    result = invoke(audience.path, "segment", "create", "x", str(bad))
    assert result.exit_code == 1 and "unknown attribute 'shoe_size'" in result.output
    result = invoke(audience.path, "segment", "show", "nope")
    assert result.exit_code == 1 and "workbench segment create" in result.output


def test_tiers_sunset_and_compare(audience: Store, tmp_path: Path) -> None:
    db = audience.path
    tiers = json.loads(invoke(db, "segment", "tiers", "--no-save", "--as-of", AS_OF.isoformat(), "--json").stdout)
    assert {t["tier"]: t["contacts"] for t in tiers} == {"active_30": 3, "active_90": 1, "at_risk": 1, "inactive": 0,
                                                          "never_engaged": 1, "new": 0}
    saved = invoke(db, "segment", "tiers", "--as-of", AS_OF.isoformat())
    assert saved.exit_code == 0 and "never_engaged" in saved.stdout
    out = tmp_path / "sunset.csv"
    sunset = json.loads(invoke(db, "segment", "sunset", "--as-of", AS_OF.isoformat(), "--min-deliveries", "1",
                               "--out", str(out), "--json").stdout)
    assert sunset["candidates"] == 2 and pl.read_csv(out)["contact_id"].to_list() == ["D", "F"]
    for name, rule in (("fr", "rule: {attribute: country, equals: FR}\n"), ("rest", "rule: {not: {segment: fr}}\n")):
        invoke(db, "segment", "create", name, str(_rule(tmp_path, f"{name}.yaml", rule)), "--backfill-from", "2026-02-01",
               "--as-of", AS_OF.isoformat())
    compared = invoke(db, "segment", "compare", "rest", "fr", "--metric", "human_open_rate", "--from", "2026-02-01",
                      "--to", "2026-05-31", "--json")
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.stdout)
    assert [c["group"] for c in data["counts"]] == ["rest", "fr"] and "Verdict" in data["verdict"][0]
    table = invoke(db, "segment", "compare", "rest", "fr", "--metric", "human_open_rate", "--where", "stream=newsletter")
    assert table.exit_code == 0 and "Verdict" in table.stdout
    assert invoke(db, "segment", "compare", "rest", "fr", "--metric", "joy").exit_code == 1


def test_workbench_load_recognises_the_world_contacts(small_world: Path, tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_DB": str(tmp_path / "w.duckdb")}
    proc = subprocess.run([sys.executable, "-m", "workbench", "load", "--json", str(small_world / "audience")],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert [f["format"] for f in summary["files"]] == ["contacts"] and summary["rows_quarantined"] == 0
    assert Store(tmp_path / "w.duckdb").scalar("SELECT count(*) FROM contacts") == summary["rows_loaded"]
