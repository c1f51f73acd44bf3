"""Opening DuckDB: short-lived read-only readers, one writer at a time, waiting on locks.

DuckDB lets one process hold a database file for writing, or several processes hold it
read-only, never both. The store therefore never keeps a connection open between
operations: a reader opens read-only, runs its query and closes; a writer opens, writes one
source file per transaction and releases the lock regularly. A process that finds the file
locked waits with a jittered backoff up to ``Settings.lock_timeout`` and then raises
:class:`StoreBusy`, so an analyst's notebook, a scheduled report and a load can share the file.
"""

from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path

import duckdb

from workbench.errors import StoreBusy, StoreError

#: longest wait between two attempts (jittered up to 1.5x); a writer pauses longer than that
#: between holds (see Store.release) so that a waiting reader always gets its turn
RETRY_CAP = 0.05
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and any(m in str(exc) for m in _LOCK_MARKERS)


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bars on stdout (scripted and --json output). DuckDB refuses the setting
    as a connect-time option, and in Jupyter without ipywidgets: then it draws none anyway."""
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    return con


def open_connection(
    path: Path,
    *,
    write: bool,
    timeout: float,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open ``path``, waiting up to ``timeout`` seconds for another process's lock.

    A read in a process that already holds the file for writing (DuckDB refuses a second
    configuration of the same file in one process) shares that writer's database instead.

    Raises
    ------
    StoreBusy
        The lock was still held by another process after ``timeout`` seconds.
    StoreError
        The file does not exist (for a read) or cannot be opened.
    """
    if not write and not path.exists():
        raise StoreError(
            f"no database at {path}: load something first "
            "(`workbench load data/raw` or `make demo`), or pass --db"
        )
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                return _quiet(duckdb.connect(str(path), config=config))
            try:
                return _quiet(duckdb.connect(str(path), read_only=True, config=config))
            except duckdb.ConnectionException:
                # This process already holds the file for writing: share that instance.
                return _quiet(duckdb.connect(str(path), config=config))
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise StoreError(f"cannot open {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"{path} stayed locked by another process for {timeout:.0f} s; "
                    "wait for the running load to finish or raise WORKBENCH_LOCK_TIMEOUT"
                ) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, RETRY_CAP)
