"""Loading files into the store: one transaction per file, keyed rows, quarantine.

For each file: its content hash is looked up in ``loaded_files`` (the same bytes under any
name load once); its format is sniffed (or forced); its records are parsed in bounded
chunks and inserted with ``source_key = md5(record key)``, skipping keys already present in
the same time range; unreadable records go to ``quarantine`` with their place and reason.
A file that cannot be read at all is quarantined whole and the batch goes on.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from workbench.errors import InputError, StoreError, UnknownFormat
from workbench.sources import registry
from workbench.sources.reader import Reject, iter_files, read_head
from workbench.sources.sendlogs.base import ParseOptions
from workbench.store import Store, load_sql

#: rejects stored per file; more are counted and summarised in one row
MAX_REJECTS_STORED = 10_000
SCANNER_CLICK_SECONDS = 10


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    format: str | None
    status: str  # loaded | skipped | failed
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    message: str | None = None


@dataclass
class LoadSummary:
    """What happened to a batch of files; ``exit_code`` is 2 when anything was quarantined."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        return sum(f.rows_duplicate for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def exit_code(self) -> int:
        return 2 if any(f.rows_quarantined or f.status == "failed" for f in self.files) else 0

    def as_dict(self) -> dict[str, object]:
        return {
            "files": [f.__dict__ for f in self.files],
            "files_loaded": sum(f.status == "loaded" for f in self.files),
            "files_skipped": sum(f.status == "skipped" for f in self.files),
            "files_failed": sum(f.status == "failed" for f in self.files),
            "rows_loaded": self.rows_loaded,
            "rows_duplicate": self.rows_duplicate,
            "rows_quarantined": self.rows_quarantined,
        }


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (as stored: compressed files hash compressed)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 << 20):
            digest.update(block)
    return digest.hexdigest()


class FileSink:
    """Receives one file's records inside its transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, sha: str, fmt: str, on_bytes: Callable[[int], None] | None) -> None:
        self.con = con
        self.path = path
        self.sha = sha
        self.fmt = fmt
        self.loaded = 0
        self.duplicate = 0
        self.rejects: list[Reject] = []
        self.reject_count = 0
        self.learned: list[tuple[str, str]] = []
        self.other_tables: dict[str, int] = {}
        self.followups: list[str] = []
        self._on_bytes = on_bytes
        self._insert = load_sql("insert_events")
        self._dedupe = (
            "WHERE NOT EXISTS (SELECT 1 FROM events e "
            "WHERE e.ts BETWEEN $lo AND $hi AND e.source_key = b.source_key)"
        )

    def add_events(self, frame: pl.DataFrame) -> None:
        total = len(frame)
        frame = frame.unique(subset=["key"], keep="first", maintain_order=True)
        lo, hi = frame["ts"].min(), frame["ts"].max()
        self.con.register("batch", frame)
        try:
            has_relay = frame["remote_mta"].null_count() < len(frame)
            learned = self.con.execute(load_sql("learn_provider_domains")).fetchall() if has_relay else []
            if learned:
                self.learned.extend((str(d), str(p)) for d, p in learned)
            overlap = self.con.execute(
                "SELECT 1 FROM events WHERE ts BETWEEN ? AND ? LIMIT 1", [lo, hi]
            ).fetchone()
            sql = self._insert.replace("-- DEDUPE", self._dedupe if overlap else "")
            params: dict[str, object] = {"source": self.fmt, "source_file": str(self.path)}
            if overlap:
                params.update(lo=lo, hi=hi)
            row = self.con.execute(sql, params).fetchone()
        finally:
            self.con.unregister("batch")
        inserted = int(row[0]) if row else 0
        self.loaded += inserted
        self.duplicate += total - inserted

    def add_rows(self, table: str, frame: pl.DataFrame) -> None:
        """Insert rows of another table by column name (for sources with their own tables)."""
        # as Arrow: DuckDB reads polars' Arrow export faster than the frame itself (a third less
        # time for 100k DMARC records with list-of-struct columns, measured)
        self.con.register("rows_batch", frame.to_arrow())
        try:
            row = self.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM rows_batch').fetchone()
        finally:
            self.con.unregister("rows_batch")
        self.other_tables[table] = self.other_tables.get(table, 0) + (int(row[0]) if row else 0)

    def upsert_rows(self, table: str, frame: pl.DataFrame) -> None:
        """Insert or replace rows of a table with a primary key (reference data)."""
        self.con.register("rows_batch", frame)
        try:
            row = self.con.execute(f'INSERT OR REPLACE INTO "{table}" BY NAME SELECT * FROM rows_batch').fetchone()
        finally:
            self.con.unregister("rows_batch")
        self.other_tables[table] = self.other_tables.get(table, 0) + (int(row[0]) if row else 0)

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        """Read inside the file's transaction (sees what this file added so far)."""
        relation = self.con.sql(sql, params=params)
        frame: pl.DataFrame = relation.pl() if relation is not None else pl.DataFrame()
        return frame

    def count_duplicates(self, n: int) -> None:
        """Count ``n`` records skipped as already loaded (sources that dedupe themselves)."""
        self.duplicate += n

    def after_commit_sql(self, *statements: str) -> None:
        """Statements to run in the same transaction once the file's rows are in."""
        self.followups.extend(statements)

    def add_rejects(self, rejects: list[Reject]) -> None:
        self.reject_count += len(rejects)
        room = MAX_REJECTS_STORED - len(self.rejects)
        if room > 0:
            self.rejects.extend(rejects[:room])

    def progress(self, nbytes: int) -> None:
        if self._on_bytes:
            self._on_bytes(nbytes)

    def write_quarantine(self) -> None:
        rows = list(self.rejects)
        if self.reject_count > len(rows):
            rows.append(Reject("-", f"{self.reject_count - len(rows)} more rejects not stored", "", "ParseError"))
        _quarantine(self.con, self.path, self.sha, self.fmt, rows)


def _quarantine(con: duckdb.DuckDBPyConnection, path: Path, sha: str | None, fmt: str | None, rejects: list[Reject]) -> None:
    if not rejects:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = pl.DataFrame(
        {
            "quarantined_at": [now] * len(rejects),
            "file": [str(path)] * len(rejects),
            "content_sha256": [sha] * len(rejects),
            "format": [fmt] * len(rejects),
            "position": [r.position for r in rejects],
            "error": [r.error for r in rejects],
            "reason": [r.reason for r in rejects],
            "excerpt": [r.excerpt for r in rejects],
        },
        schema={"quarantined_at": pl.Datetime("us"), "file": pl.Utf8, "content_sha256": pl.Utf8, "format": pl.Utf8,
                "position": pl.Utf8, "error": pl.Utf8, "reason": pl.Utf8, "excerpt": pl.Utf8},
    )
    con.register("q_batch", frame)
    try:
        con.execute(
            "INSERT INTO quarantine SELECT * FROM q_batch q WHERE NOT EXISTS ("
            " SELECT 1 FROM quarantine x WHERE x.file = q.file"
            " AND x.content_sha256 IS NOT DISTINCT FROM q.content_sha256"
            " AND x.position IS NOT DISTINCT FROM q.position AND x.reason = q.reason)"
        )
    finally:
        con.unregister("q_batch")


def _options_for(path: Path, base: ParseOptions) -> ParseOptions:
    from dataclasses import replace

    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return replace(base, source=str(path), reference_time=base.reference_time or mtime)


def load_file(
    store: Store,
    path: Path,
    *,
    format: str | None = None,
    options: ParseOptions | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> FileResult:
    """Load one file in one transaction; never raises for bad input (see the result).

    Raises
    ------
    StoreError
        The store itself failed (not the input).
    """
    sha = file_sha256(path)
    with store.writer() as con:
        if con.execute("SELECT 1 FROM loaded_files WHERE content_sha256 = ?", [sha]).fetchall():
            return FileResult(str(path), None, "skipped", message="already loaded (same content)")
        try:
            fmt = registry.by_name(format) if format else registry.detect(path, read_head(path))
        except UnknownFormat as exc:
            _quarantine(con, path, sha, None, [Reject(exc.position or "-", exc.reason, exc.excerpt or "", "UnknownFormat")])
            return FileResult(str(path), None, "failed", rows_quarantined=1, message=str(exc))
        opts = _options_for(path, options or ParseOptions())
        sink = FileSink(con, path, sha, fmt.name, on_bytes)
        con.execute("BEGIN TRANSACTION")
        try:
            fmt.load(path, sink, opts)
            for statement in sink.followups:
                con.execute(statement)
            sink.write_quarantine()
            con.execute(
                "INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [sha, str(path), path.stat().st_size, fmt.name, datetime.now(UTC).replace(tzinfo=None),
                 sink.loaded + sum(sink.other_tables.values()), sink.duplicate, sink.reject_count],
            )
            if sink.learned:
                domains = [d for d, _ in sink.learned]
                con.execute(
                    "UPDATE events SET mailbox_provider = pd.provider FROM provider_domains pd "
                    "WHERE events.recipient_domain = pd.domain AND events.mailbox_provider = 'other' "
                    "AND pd.domain IN (SELECT unnest(?::VARCHAR[]))",
                    [domains],
                )
            con.execute("COMMIT")
        except InputError as exc:
            con.execute("ROLLBACK")
            error = type(exc).__name__
            _quarantine(con, path, sha, fmt.name, [Reject(exc.position or "-", exc.reason, exc.excerpt or "", error)])
            return FileResult(str(path), fmt.name, "failed", rows_quarantined=1, message=str(exc))
        except (duckdb.Error, StoreError):
            con.execute("ROLLBACK")
            raise
        except Exception as exc:  # a parser bug must not stop the batch: quarantine, report
            con.execute("ROLLBACK")
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            _quarantine(con, path, sha, fmt.name, [Reject("-", f"internal error while parsing: {detail}", "", "InternalError")])
            return FileResult(str(path), fmt.name, "failed", rows_quarantined=1, message=f"internal error: {detail}")
    rows = sink.loaded + sum(sink.other_tables.values())
    return FileResult(str(path), fmt.name, "loaded", rows, sink.duplicate, sink.reject_count)


def load_paths(
    store: Store,
    paths: Iterable[str | Path],
    *,
    format: str | None = None,
    options: ParseOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LoadSummary:
    """Load every file under ``paths`` (folders recursively), each in its own transaction.

    ``progress(path, bytes_done, bytes_total)`` is called as bytes are read. Bad files and
    bad records are quarantined; the batch always completes. Afterwards, events that do not
    name their sending IP take their message's (``attribute_events.sql``), undecided clicks
    are judged human or scanner (``flag_scanner_clicks.sql``), bounces and complaints from
    mail are tied to their sends (``link_feedback.sql``), send-log failures get the bounce
    classifier's reasons (:mod:`workbench.sources.bounce_texts`) and suppressions are
    brought up to date (``suppression_sync.sql``).

    Raises
    ------
    InputError
        A path does not exist.
    StoreError
        The store failed.
    """
    files = list(iter_files(paths))
    total = sum(os.path.getsize(f) for f in files) or 1
    done = 0
    summary = LoadSummary()
    for path in files:
        size = os.path.getsize(path)
        seen = 0

        def tick(nbytes: int, path: Path = path, size: int = size, base: int = done) -> None:
            nonlocal seen
            step = max(0, min(nbytes, size - seen))
            seen += step
            if progress:
                progress(str(path), base + seen, total)

        result = load_file(store, path, format=format, options=options, on_bytes=tick)
        summary.files.append(result)
        done += size
        if progress:
            progress(str(path), done, total)
        store.release()
    if any(f.status == "loaded" and f.rows_loaded for f in summary.files):
        with store.writer() as con:
            # bounces and complaints from mail find the send they answer (also those loaded earlier)
            con.execute(load_sql("link_feedback"))
            con.execute(load_sql("attribute_events"))
            con.execute(load_sql("flag_scanner_clicks"), {"seconds": SCANNER_CLICK_SECONDS})
            # send-log failure texts classified by the bounce rule tables (workbench.feedback)
            from workbench.sources.bounce_texts import refine

            refine(con)
            # complaints, hard bounces, unsubscribes and soft-bounce runs suppress their addresses
            con.execute(load_sql("suppression_sync"))
    store.release(force=True)
    return summary
