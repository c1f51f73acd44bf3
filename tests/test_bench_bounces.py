"""The bounce benchmark runs end to end on a small Maildir (figures are not checked: the
machine is shared), and against Sisimai when it is installed."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

BENCH = ROOT / "benchmarks" / "bench_bounces.py"


def test_benchmark_runs_and_reports(tmp_path: object) -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--messages", "60", "--rounds", "1", "--world-events", "20000",
                           "--json"], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    results = json.loads(out[out.index("["):])
    ours = [r for r in results if r["classifier"] == "workbench"]
    assert any(r["workload"] == "maildir 60" and r["messages"] == 60 for r in ours)
    assert all(r["messages_per_second"] > 0 and r["records"] > 0 for r in results)
    sisimai = subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True, check=False).returncode == 0
    assert any(r["classifier"].startswith("Sisimai") for r in results) == sisimai
    assert "messages/s" in out
