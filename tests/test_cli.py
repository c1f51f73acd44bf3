from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import WORLD_END
from sendlogs_helpers import FIXTURES


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def test_help_everywhere() -> None:
    top = run("--help")
    assert top.returncode == 0 and "load" in top.stdout and "synth" in top.stdout
    for command in ("synth", "load", "quarantine", "formats", "status", "demo"):
        result = run(command, "--help")
        assert result.returncode == 0, command
        assert "--help" in result.stdout


def test_synth_load_quarantine_status_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    synth = run("synth", "--events", "5000", "--out", str(tmp_path / "raw"), "--end", WORLD_END.isoformat(), "--json")
    assert synth.returncode == 0, synth.stderr
    made = json.loads(synth.stdout)
    assert made["events"] > 1000 and set(made["by_format"]) >= {"pmta", "sendgrid"}

    loaded = run("--db", str(db), "load", str(tmp_path / "raw" / "infrastructure.yaml"), str(tmp_path / "raw" / "sendlogs"), "--json")
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert summary["rows_quarantined"] == 0 and summary["files_failed"] == 0

    again = run("load", "--db", str(db), str(tmp_path / "raw" / "sendlogs"), "--json")
    assert json.loads(again.stdout)["rows_loaded"] == 0

    bad = run("load", "--db", str(db), str(FIXTURES / "postfix" / "maillog"))
    assert bad.returncode == 2
    assert "quarantine" in bad.stderr

    q = run("quarantine", "--db", str(db), "--json")
    assert {row["position"] for row in json.loads(q.stdout)} == {"line 19", "line 20"}

    status = run("status", "--json", env={"WORKBENCH_DB": str(db)})
    data = json.loads(status.stdout)
    assert data["tables"]["events"] > 1000 and data["db"] == str(db)


def test_errors_say_what_to_do_and_exit_1(tmp_path: Path) -> None:
    missing = run("status", "--db", str(tmp_path / "nothing.duckdb"))
    assert missing.returncode == 1
    assert "workbench load" in missing.stderr
    unknown = run("load", "--db", str(tmp_path / "x.duckdb"), "--format", "nope", str(FIXTURES / "postfix" / "maillog"))
    assert unknown.returncode == 2
    assert "no format named 'nope'" in unknown.stderr


def test_formats_lists_every_loader() -> None:
    names = [f["name"] for f in json.loads(run("formats", "--json").stdout)]
    assert {"postfix", "pmta", "kumomta", "ses", "sendgrid", "generic", "parquet", "infrastructure"} <= set(names)
