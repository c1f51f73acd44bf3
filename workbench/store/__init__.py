"""The Store owns DuckDB: it opens the file, migrates it, loads into it and answers queries.

Nothing else in the package calls ``duckdb.connect`` on the store's file. Readers open
read-only for the length of one query; the writer releases its lock between source files
at least every ``Settings.lock_hold`` seconds, so a notebook kernel, a scheduled report and a
load can run at the same time (each waits for the other's lock, never fails on it).

Examples
--------
>>> store = Store("data/workbench.duckdb")          # doctest: +SKIP
>>> store.query("SELECT count(*) AS n FROM events")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa

from workbench.config import Settings
from workbench.errors import StoreError
from workbench.store import migrations
from workbench.store.connection import open_connection

__all__ = ["Store"]

Params = Mapping[str, Any] | Sequence[Any] | None


class Store:
    """The DuckDB store of the workbench.

    Parameters
    ----------
    db:
        A database path, or :class:`Settings` (whose ``db_path`` is used). ``None`` loads
        the settings from the environment (default ``data/workbench.duckdb``).
    settings:
        Settings for lock timeout and memory; defaults to ``Settings.load()``.
    """


    def __init__(self, db: str | Path | Settings | None = None, *, settings: Settings | None = None):
        if isinstance(db, Settings):
            settings = db
            db = None
        self.settings = (settings or Settings.load()).with_db(db)
        self.path = Path(self.settings.db_path)
        self._writer: duckdb.DuckDBPyConnection | None = None
        self._writer_depth = 0
        self._writer_since = 0.0
        self._migrated = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- connections ---------------------------------------------------------------------

    def _open(self, write: bool) -> duckdb.DuckDBPyConnection:
        return open_connection(
            self.path,
            write=write,
            timeout=self.settings.lock_timeout,
            memory_limit=self.settings.memory_limit,
            threads=self.settings.threads,
        )

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection, migrated; nested uses share one connection.

        Raises
        ------
        StoreBusy
            Another process held the lock past ``lock_timeout``.
        """
        with self._lock:
            if self._writer is None:
                self._writer = self._open(write=True)
                self._writer_since = time.monotonic()
                if not self._migrated:
                    self._migrate(self._writer)
            self._writer_depth += 1
        try:
            yield self._writer
        finally:
            with self._lock:
                self._writer_depth -= 1

    def release(self, *, force: bool = False) -> None:
        """Close the held writer when no block uses it and it was held long enough
        (``Settings.lock_hold``) or ``force`` is set, so that other processes get the lock."""
        with self._lock:
            if self._writer is None or self._writer_depth > 0:
                return
            if force or time.monotonic() - self._writer_since >= self.settings.lock_hold:
                self._writer.close()
                self._writer = None
                if not force:
                    time.sleep(0.1)  # longer than a waiting reader's retry interval: it gets its turn

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading: the held writer if any, else a short read-only one.

        Raises
        ------
        StoreError
            The database does not exist yet.
        StoreBusy
            A writer in another process held the lock past ``lock_timeout``.
        """
        with self._lock:
            held = self._writer
        if held is not None:
            yield held
            return
        if not self._migrated:
            self._ensure_migrated()
        con = self._open(write=False)
        try:
            yield con
        finally:
            con.close()

    def _ensure_migrated(self) -> None:
        con = self._open(write=False)  # raises StoreError when there is no database yet
        try:
            behind = bool(migrations.pending(con))
        finally:
            con.close()
        if not behind:
            self._migrated = True
            return
        with self.writer():
            pass
        self.release(force=True)

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        migrations.migrate(con)
        _seed_providers(con)
        self._migrated = True

    def migrate(self) -> list[int]:
        """Create or upgrade the database; returns the migration versions present."""
        with self.writer() as con:
            versions = [int(r[0]) for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        self.release(force=True)
        return versions

    def close(self) -> None:
        """Close the held writer (safe to call twice)."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                self._writer_depth = 0

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------------

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """Run a read query; the result as an Arrow table."""
        with self.reader() as con:
            try:
                relation = con.sql(sql, params=params)
                if relation is None:
                    raise StoreError(f"not a query: {sql.strip()[:200]}")
                return relation.to_arrow_table()
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {exc}\n{sql.strip()[:500]}") from exc

    def query(self, sql: str, params: Params = None) -> pl.DataFrame:
        """Run a read query; the result as a polars DataFrame."""
        result = pl.from_arrow(self.query_arrow(sql, params))
        assert isinstance(result, pl.DataFrame)
        return result

    def query_pandas(self, sql: str, params: Params = None) -> pd.DataFrame:
        """Run a read query; the result as a pandas DataFrame."""
        frame: pd.DataFrame = self.query_arrow(sql, params).to_pandas()
        return frame

    def scalar(self, sql: str, params: Params = None) -> Any:
        """Run a read query returning one value."""
        with self.reader() as con:
            # fetchall: a result left half-read blocks the next statement on a held writer
            rows = (con.execute(sql, params) if params is not None else con.execute(sql)).fetchall()
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Params = None) -> None:
        """Run one write statement in its own transaction."""
        with self.writer() as con:
            con.execute(sql, params) if params is not None else con.execute(sql)
        self.release()

    def sql(self, name: str, params: Params = None) -> pl.DataFrame:
        """Run the packaged query ``workbench/sql/<name>.sql`` with named parameters."""
        frame: pl.DataFrame = self.query(load_sql(name), params)
        return frame

    def tables(self) -> list[str]:
        """Names of the base tables."""
        df = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema = 'main' ORDER BY 1"
        )
        return [str(v) for v in df["table_name"].to_list()]

    def counts(self) -> dict[str, int]:
        """Row count of every base table (cheap: DuckDB keeps them)."""
        names = self.tables()
        if not names:
            return {}
        union = " UNION ALL ".join(f"SELECT '{n}' AS t, count(*) AS n FROM \"{n}\"" for n in names)
        return {str(t): int(n) for t, n in self.query(union).iter_rows()}

    def fingerprint(self, tables: Sequence[str] | None = None) -> dict[str, str]:
        """A content hash per table (order-independent): equal fingerprints, equal tables.

        Used to show that a reload changes nothing and that a rebuild gives the same numbers.
        """
        out = {}
        for name in tables or self.tables():
            cols = self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND column_name NOT IN ('loaded_at', 'quarantined_at', 'applied_at') "
                "ORDER BY ordinal_position",
                [name],
            )["column_name"].to_list()
            col_list = ", ".join(f'"{c}"' for c in cols)
            value = self.scalar(
                f'SELECT count(*) || \':\' || coalesce(bit_xor(hash({col_list}))::VARCHAR, \'\') FROM "{name}"'
            )
            out[name] = str(value)
        return out


@functools.lru_cache(maxsize=256)
def load_sql(name: str) -> str:
    """The text of the packaged query ``workbench/sql/<name>.sql``.

    Raises
    ------
    StoreError
        No such query file.
    """
    try:
        return resources.files("workbench").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StoreError(f"no query named {name!r} in workbench/sql/") from exc


def _providers_table() -> tuple[str, list[tuple[str, str, str]]]:
    text = resources.files("workbench").joinpath("data", "providers.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        kind, name, provider = line.split("\t")
        rows.append((kind, name.lower(), provider))
    return hashlib.sha256(text.encode()).hexdigest(), rows


def _seed_providers(con: duckdb.DuckDBPyConnection) -> None:
    """Refresh the built-in provider mapping when the shipped list changed (user rows stay)."""
    digest, rows = _providers_table()
    seen = con.execute("SELECT value FROM store_meta WHERE key = 'providers_sha256'").fetchone()
    if seen and seen[0] == digest:
        return
    domains = [(n, p) for k, n, p in rows if k == "domain"]
    mxs = [(n, p) for k, n, p in rows if k == "mx"]
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM provider_domains WHERE origin = 'builtin'")
    con.execute("DELETE FROM provider_mx WHERE origin = 'builtin'")
    con.executemany(
        "INSERT INTO provider_domains VALUES (?, ?, 'builtin') ON CONFLICT DO NOTHING", domains
    )
    con.executemany("INSERT INTO provider_mx VALUES (?, ?, 'builtin') ON CONFLICT DO NOTHING", mxs)
    con.execute(
        "INSERT INTO store_meta VALUES ('providers_sha256', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [digest],
    )
    con.execute("COMMIT")
