"""An analyst's notebook reading the store must not make a load fail, nor the reverse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workbench.config import Settings
from workbench.store import Store

LOADER = """
import sys, json
from workbench.config import Settings
from workbench.store import Store
from workbench.store.loading import load_paths
store = Store(Settings.load(db_path=sys.argv[1], lock_timeout=60))
summary = load_paths(store, sys.argv[2:])
print(json.dumps({"loaded": summary.rows_loaded, "files": len(summary.files)}))
"""

READER = """
import sys, json, time, pathlib
from workbench.config import Settings
from workbench.store import Store
store = Store(Settings.load(db_path=sys.argv[1], lock_timeout=60))
done = pathlib.Path(sys.argv[2])
seen, reads = [], 0
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    finished = done.exists()
    seen.append(int(store.scalar("SELECT count(*) FROM events")))
    reads += 1
    if finished:
        break
    time.sleep(0.02)
print(json.dumps({"reads": reads, "first": seen[0], "last": seen[-1], "monotonic": seen == sorted(seen)}))
"""


def test_a_reader_and_a_loader_in_two_processes(tmp_path: Path, small_world: Path) -> None:
    db = tmp_path / "shared.duckdb"
    Store(Settings.load(db_path=db)).migrate()
    done = tmp_path / "loader-done"
    folders = [str(small_world / "infrastructure.yaml"), str(small_world / "sendlogs" / "pmta"), str(small_world / "sendlogs" / "kumomta")]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(done)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    loader = subprocess.Popen([sys.executable, "-c", LOADER, str(db), *folders], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    load_out, load_err = loader.communicate(timeout=300)
    done.touch()
    read_out, read_err = reader.communicate(timeout=300)
    assert loader.returncode == 0, load_err
    assert reader.returncode == 0, read_err
    loaded, read = json.loads(load_out), json.loads(read_out)
    assert loaded["loaded"] > 1000
    assert read["reads"] >= 2
    assert read["monotonic"]
    # the reader saw the store grow and, once the loader was done, everything it loaded
    assert read["last"] == Store(Settings.load(db_path=db)).scalar("SELECT count(*) FROM events") > read["first"]
