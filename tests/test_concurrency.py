"""An analyst's notebook reading the store must not make a load fail, nor the reverse."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from workbench.config import Settings
from workbench.store import Store

LOADER = """
import sys, json, time
from workbench.config import Settings
from workbench.store import Store
from workbench.store.loading import load_paths
store = Store(Settings.load(db_path=sys.argv[1], lock_timeout=60, lock_hold=0.2))
started = time.time()
summary = load_paths(store, sys.argv[2:])
print(json.dumps({"loaded": summary.rows_loaded, "files": len(summary.files), "started": started, "ended": time.time()}))
"""

READER = """
import sys, json, time, pathlib
from workbench.config import Settings
from workbench.store import Store
store = Store(Settings.load(db_path=sys.argv[1], lock_timeout=60))
ready, done = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
seen, stamps = [], []
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    finished = done.exists()
    seen.append(int(store.scalar("SELECT count(*) FROM events")))
    stamps.append(time.time())
    ready.touch()
    if finished:
        break
    time.sleep(0.02)
print(json.dumps({"seen": seen, "stamps": stamps}))
"""


def test_a_reader_and_a_loader_in_two_processes(tmp_path: Path, small_world: Path) -> None:
    db = tmp_path / "shared.duckdb"
    Store(Settings.load(db_path=db)).migrate()
    ready, done = tmp_path / "reader-ready", tmp_path / "loader-done"
    folders = [str(small_world / "infrastructure.yaml"), str(small_world / "sendlogs" / "pmta"), str(small_world / "sendlogs" / "kumomta")]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(ready), str(done)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not ready.exists() and reader.poll() is None:  # the analyst's kernel is reading
        time.sleep(0.05)
    loader = subprocess.Popen([sys.executable, "-c", LOADER, str(db), *folders], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    load_out, load_err = loader.communicate(timeout=300)
    done.touch()
    read_out, read_err = reader.communicate(timeout=300)
    assert loader.returncode == 0, load_err
    assert reader.returncode == 0, read_err
    loaded, read = json.loads(load_out), json.loads(read_out)
    assert loaded["files"] > 20
    seen, stamps = read["seen"], read["stamps"]
    assert seen == sorted(seen)  # never a half-loaded file: counts only grow
    total = Store(Settings.load(db_path=db)).scalar("SELECT count(*) FROM events")
    assert seen[0] == 0 and seen[-1] == total > 0
    # the reader kept reading while the loader worked
    assert any(loaded["started"] < t < loaded["ended"] for t in stamps)
