"""Loading files into the store: one transaction per file, keyed rows, quarantine.

For each file: its content hash is looked up in ``loaded_files`` (the same bytes under any
name load once); its format is sniffed (or forced); its records are parsed in bounded
chunks and inserted with ``source_key = md5(record key)``, skipping keys already present in
the same time range; unreadable records go to ``quarantine`` with their place and reason.
A file that cannot be read at all is quarantined whole and the batch goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from workbench.errors import InputError, StoreError, UnknownFormat
from workbench.sources import registry, scan, sqlparse
from workbench.sources.events import conform_sql
from workbench.sources.reader import Reject, iter_files, read_head
from workbench.sources.sendlogs.base import ParseOptions
from workbench.sources.sqlparse import Query
from workbench.store import Store, load_sql, staging
from workbench.store.frames import insert_frame
from workbench.store.staging import Stage

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
    """SHA-256 of a file's bytes (as stored: compressed files hash compressed), read through
    one 256 KiB buffer (4 MiB blocks read in a thread stayed resident in its malloc arena)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: files up to this size are hashed before they load (skipping a known one costs nothing)
EAGER_HASH = 16 << 20
#: the same for formats that hash what they read (``Format.hashes_file``): larger files are
#: hashed by their loader in its own pass over them, while the parser starts
OFFERED_HASH = 1 << 20


class _Hashing:
    """The SHA-256 of a file while it loads: computed in a thread (hashlib releases the GIL)
    or, for a format whose loader reads the file whole anyway (``offered``), handed over by
    that loader (:meth:`FileSink.offer_file_sha256`) — else computed when asked for."""

    def __init__(self, path: Path, *, offered: bool = False) -> None:
        self._path = path
        self._value: str | BaseException = ""
        self._thread: threading.Thread | None = None
        if not offered:
            self._thread = threading.Thread(target=self._run, args=(path,), name="workbench-sha256", daemon=True)
            self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._value = file_sha256(path)
        except BaseException as exc:  # handed to result()
            self._value = exc

    def offer(self, sha: str) -> bool:
        """Take the hash from the loader; ``False`` when it is computed here instead."""
        if self._thread is None and not self._value:
            self._value = sha
            return True
        return False

    def result(self) -> str:
        if self._thread is not None:
            self._thread.join()
        if isinstance(self._value, BaseException):
            raise self._value
        if not self._value:  # offered, but the loader did not get to it
            self._value = file_sha256(self._path)
        return self._value


class AlreadyLoaded(Exception):
    """The file's bytes were loaded before, found while it loads (a renamed copy)."""


class FileSink:
    """Receives one file's records inside its transaction.

    Events are inserted as they come, tagged with the load's id; :meth:`finish` then drops
    those whose key the store already had (in the load's time range) or that the file
    repeats, and learns what the new rows teach (providers of hosted domains).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, sha: str, fmt: str,
                 on_bytes: Callable[[int], None] | None, load_id: int = 0, hashing: _Hashing | None = None) -> None:
        self.con = con
        self.path = path
        self.sha = sha
        self._hashing = hashing
        self.fmt = fmt
        self.load_id = load_id
        self.inserted = 0
        self.loaded = 0
        self.duplicate = 0
        self.rejects: list[Reject] = []
        self.reject_count = 0
        self.unplaced = 0
        self.learned: list[tuple[str, str]] = []
        self.other_tables: dict[str, int] = {}
        self.followups: list[str] = []
        #: the file's hash was found new inside this transaction (by offer_file_sha256)
        self.sha_checked = False
        self._on_bytes = on_bytes
        self._insert = load_sql("insert_events")

    def offer_file_sha256(self, sha: str) -> None:
        """The file's SHA-256 from a loader that computed it while reading the whole file
        (formats with ``hashes_file``); ignored when the store hashes the file itself.

        Raises
        ------
        AlreadyLoaded
            A file with these bytes was loaded before (a renamed copy): the loader stops
            before parsing it.
        """
        if not self.sha and self._hashing is not None and self._hashing.offer(sha):
            self.sha = sha
            if _known(self.con, sha):
                raise AlreadyLoaded(sha)
            self.sha_checked = True

    def file_sha256(self) -> str:
        """The file's SHA-256: known from the start for small files, else waited for from the
        hash computed while the file loads."""
        if not self.sha and self._hashing is not None:
            self.sha = self._hashing.result()
        return self.sha

    def add_event_query(self, query: Query, relation: str, relation_sql: str, params: Mapping[str, object],
                        frames: Mapping[str, object] | None = None, *, unit: str = "line") -> int:
        """Insert the events of a parser's ``query`` whose input ``relation`` is
        ``relation_sql`` (a file reader, or registered ``frames``), in one statement.

        Returns the number of records refused without a known place (read straight from a
        file); the caller finds their places and hands them to :meth:`place_rejects`.
        """
        sql = sqlparse.bind(query, relation, relation_sql)
        args = {**params, **query.params}
        frames = frames or {}
        for name, frame in frames.items():
            self.con.register(name, frame)
        collector = sqlparse.RejectSink(unit)
        sqlparse.reject_function(self.con, collector)
        try:
            present = sqlparse.columns_of(self.con, sql, args)
            batch = sqlparse.accepted(conform_sql(sql, present, clean=query.clean))
            statement = self._insert.replace("FROM batch AS b", f"FROM ({batch}) AS b")
            # parallel insert (a third faster); keep the small reference tables as the joins' build
            # side (DuckDB, misled by the reader's row estimate, would hash the whole file instead)
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute("SET disabled_optimizers = 'build_side_probe_side'")
            try:
                row = _one(self.con, statement, {**args, "source": self.fmt, "source_file": str(self.path),
                                                 "load_id": self.load_id})
            finally:
                self.con.execute("RESET preserve_insertion_order")
                self.con.execute("RESET disabled_optimizers")
            unreadable = self._reader_rejects() if scan.REJECT_TABLES[0] in relation_sql else 0
        finally:
            for name in frames:
                self.con.unregister(name)
        self.inserted += int(row[0]) if row else 0
        self._keep(collector.rejects, collector.count - collector.unplaced)
        self.unplaced += collector.unplaced + unreadable
        return collector.unplaced + unreadable

    def _reader_rejects(self) -> int:
        """How many lines DuckDB's CSV reader could not read (their places come later); its
        temporary tables are dropped (a rolled-back transaction drops them too)."""
        row = _one(self.con, f"SELECT count(*) FROM {scan.REJECT_TABLES[0]}")
        self.con.execute(f"DROP TABLE {scan.REJECT_TABLES[0]}; DROP TABLE {scan.REJECT_TABLES[1]}")
        return int(row[0]) if row else 0

    def place_rejects(self, rejects: list[Reject]) -> None:
        """The refused records that :meth:`add_event_query` counted, now with their places."""
        self.unplaced = 0
        self.add_rejects(rejects)

    def add_staged(self, stage: Stage, index: int) -> None:
        """Insert the events of the ``index``-th file of a group parsed together
        (:mod:`workbench.store.staging`)."""
        statement = self._insert.replace(
            "FROM batch AS b", f"FROM (SELECT * EXCLUDE (wb_file) FROM {staging.TABLE} WHERE wb_file = $wb_file) AS b")
        self.con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        try:
            row = _one(self.con, statement, {"wb_file": index, "source": self.fmt, "source_file": str(self.path),
                                             "load_id": self.load_id})
        finally:
            self.con.execute("RESET disabled_optimizers")
        self.inserted += int(row[0]) if row else 0
        self.unplaced += stage.refused.get(index, 0)

    def add_events(self, frame: pl.DataFrame) -> None:
        """Insert a frame of parsed events (:data:`~workbench.sources.events.PARSED_COLUMNS`)."""
        if frame.is_empty():
            return
        self.add_event_query(Query("SELECT * FROM wb_events"), "wb_unused", "SELECT 1", {},
                             {"wb_events": frame.to_arrow()})

    def finish(self) -> None:
        """Drop the rows of this load that were loaded before or that the file repeats; learn
        providers from the MX hosts of the new rows."""
        if not self.inserted:
            return
        lo, hi, n, keys, older, relayed = _one(self.con, load_sql("load_summary"), {"load_id": self.load_id}) or (
            None, None, 0, 0, False, 0)
        if n and keys < n:
            self.con.execute(load_sql("dedupe_load_within"), {"load_id": self.load_id})
        if older:
            self.con.execute(load_sql("dedupe_load_older"), {"lo": lo, "hi": hi, "load_id": self.load_id})
        row = _one(self.con, "SELECT count(*) FROM events WHERE load_id = ?", [self.load_id]) if (older or keys < n) else (keys,)
        self.loaded = int(row[0]) if row else 0
        self.duplicate += self.inserted - self.loaded
        if relayed:
            learned = self.con.execute(load_sql("learn_provider_domains"), {"load_id": self.load_id}).fetchall()
            self.learned.extend((str(d), str(p)) for d, p in learned)

    def _keep(self, rejects: list[Reject], count: int) -> None:
        self.reject_count += count
        room = MAX_REJECTS_STORED - len(self.rejects)
        if room > 0:
            self.rejects.extend(rejects[:room])

    def add_rows(self, table: str, frame: pl.DataFrame | pa.Table | pa.RecordBatchReader) -> None:
        """Insert rows of another table by column name (for sources with their own tables); a
        reader's batches are read as they are inserted."""
        self.other_tables[table] = self.other_tables.get(table, 0) + insert_frame(self.con, table, frame)

    def add_row(self, table: str, row: Mapping[str, object]) -> None:
        """Insert one row of another table by column name (a statement with parameters: a
        millisecond less than a one-row frame, which counts per report in a mailbox)."""
        columns = ", ".join(f'"{name}"' for name in row)
        self.con.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(row))})', list(row.values()))
        self.other_tables[table] = self.other_tables.get(table, 0) + 1

    def upsert_rows(self, table: str, frame: pl.DataFrame) -> None:
        """Insert or replace rows of a table with a primary key (reference data)."""
        self.other_tables[table] = self.other_tables.get(table, 0) + insert_frame(self.con, table, frame, replace=True)

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        """Read inside the file's transaction (sees what this file added so far)."""
        relation = self.con.sql(sql, params=params)
        frame: pl.DataFrame = relation.pl() if relation is not None else pl.DataFrame()
        return frame

    @contextlib.contextmanager
    def single_threaded(self) -> Iterator[None]:
        """DuckDB on one thread meanwhile: for a source parsing on a thread of its own while
        DuckDB inserts, which leaves the parser its core (a 10k-record DMARC report streamed
        into one INSERT: 65 against 71 ms and 12.5 against 19.7 MiB on two threads, measured)."""
        row = self.con.execute("SELECT current_setting('threads')").fetchone()
        self.con.execute("SET threads = 1")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {int(row[0]) if row else os.cpu_count() or 1}")

    def count_duplicates(self, n: int) -> None:
        """Count ``n`` records skipped as already loaded (sources that dedupe themselves)."""
        self.duplicate += n

    def after_commit_sql(self, *statements: str) -> None:
        """Statements to run in the same transaction once the file's rows are in."""
        self.followups.extend(statements)

    def add_rejects(self, rejects: list[Reject]) -> None:
        self._keep(rejects, len(rejects))

    def progress(self, nbytes: int) -> None:
        if self._on_bytes:
            self._on_bytes(nbytes)

    def write_quarantine(self) -> None:
        rows = list(self.rejects)
        more = self.reject_count - len(rows)
        if self.unplaced:  # a format that did not look for their places
            rows.append(Reject("-", f"{self.unplaced} records refused; their places were not looked for", "", "ParseError"))
            self.reject_count += self.unplaced
        if more > 0:
            rows.append(Reject("-", f"{more} more rejects not stored", "", "ParseError"))
        _quarantine(self.con, self.path, self.sha, self.fmt, rows)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...] | None:
    """The first row of a statement's result, the result read to its end."""
    rows = con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    return rows[0] if rows else None


def _known(con: duckdb.DuckDBPyConnection, sha: str) -> bool:
    """Whether a file with these bytes was loaded before."""
    return bool(con.execute("SELECT 1 FROM loaded_files WHERE content_sha256 = ?", [sha]).fetchall())


def _skipped(path: Path) -> FileResult:
    return FileResult(str(path), None, "skipped", message="already loaded (same content)")


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


@contextlib.contextmanager
def _loading(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store's writer under the load memory limit (``Settings.load_memory_limit``), then
    back to the query limit (``Settings.memory_limit``): a loading process stays under 2 GiB
    whatever the size of its input.

    Raises
    ------
    StoreError
        The store failed.
    """
    load, query = (_quoted(v) for v in (store.settings.load_memory_limit, store.settings.memory_limit))
    with store.writer() as con:
        con.execute(f"SET memory_limit = {load}")
        try:
            yield con
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # the error in flight is the one to report
                con.execute(f"SET memory_limit = {query}")
            raise
        con.execute(f"SET memory_limit = {query}")


def _quoted(value: str) -> str:
    return "'" + value.strip().replace("'", "''") + "'"


def load_file(
    store: Store,
    path: Path,
    *,
    format: str | None = None,
    options: ParseOptions | None = None,
    on_bytes: Callable[[int], None] | None = None,
    staged: tuple[Stage, int] | None = None,
) -> FileResult:
    """Load one file in one transaction; never raises for bad input (see the result).
    ``staged``: the file is the ``i``-th of a group already parsed (:mod:`workbench.store.staging`).

    Raises
    ------
    StoreError
        The store itself failed (not the input).
    """
    size = path.stat().st_size
    with _loading(store) as con:
        try:
            if staged is not None:
                fmt = staged[0].members[staged[1]].fmt
            else:
                fmt = registry.by_name(format) if format else registry.detect(path, read_head(path))
        except UnknownFormat as exc:
            sha = file_sha256(path)
            if _known(con, sha):
                return _skipped(path)
            _quarantine(con, path, sha, None, [Reject(exc.position or "-", exc.reason, exc.excerpt or "", "UnknownFormat")])
            return FileResult(str(path), None, "failed", rows_quarantined=1, message=str(exc))
        # A large file is hashed while it loads (the hash is checked before committing), unless
        # a file of that name and size was loaded before: then first, as it is likely the same.
        later = size > (OFFERED_HASH if fmt.hashes_file else EAGER_HASH) and not con.execute(
            "SELECT 1 FROM loaded_files WHERE path = ? AND size_bytes = ?", [str(path), size]).fetchall()
        hashing = _Hashing(path, offered=fmt.hashes_file) if later else None
        sha = "" if hashing else file_sha256(path)
        if not hashing and _known(con, sha):
            return _skipped(path)
        opts = _options_for(path, options or ParseOptions())
        con.execute("BEGIN TRANSACTION")
        try:
            load_id, pending = _one(con, f"SELECT nextval('load_ids'), ({PENDING_GET})") or (0, None)
            sink = FileSink(con, path, sha, fmt.name, on_bytes, int(load_id), hashing)
            if staged is None:
                fmt.load(path, sink, opts)
            else:
                _load_staged(sink, staged, opts)
            if hashing:
                sha = sink.file_sha256()
                if not sink.sha_checked and _known(con, sha):
                    raise AlreadyLoaded(sha)
            sink.finish()
            for statement in sink.followups:
                con.execute(statement)
            sink.write_quarantine()
            con.execute(
                "INSERT INTO loaded_files (content_sha256, path, size_bytes, format, loaded_at, rows_loaded,"
                " rows_duplicate, rows_quarantined, load_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sha, str(path), path.stat().st_size, fmt.name, datetime.now(UTC).replace(tzinfo=None),
                 sink.loaded + sum(sink.other_tables.values()), sink.duplicate, sink.reject_count, load_id],
            )
            if (sink.loaded or sink.other_tables) and pending != "true":
                # committed with the rows: a crash before the post-load steps finish leaves it set
                # (read with the load id: set already after a batch's first file, and the upsert
                # costs 3 ms)
                con.execute(PENDING_SET)
            if sink.learned:
                domains = [d for d, _ in sink.learned]
                con.execute(
                    "UPDATE events SET mailbox_provider = pd.provider FROM provider_domains pd "
                    "WHERE events.recipient_domain = pd.domain AND events.mailbox_provider = 'other' "
                    "AND pd.domain IN (SELECT unnest(?::VARCHAR[]))",
                    [domains],
                )
            con.execute("COMMIT")
        except AlreadyLoaded:
            con.execute("ROLLBACK")
            return _skipped(path)
        except InputError as exc:
            con.execute("ROLLBACK")
            sha = hashing.result() if hashing else sha
            error = type(exc).__name__
            _quarantine(con, path, sha, fmt.name, [Reject(exc.position or "-", exc.reason, exc.excerpt or "", error)])
            return FileResult(str(path), fmt.name, "failed", rows_quarantined=1, message=str(exc))
        except (duckdb.Error, StoreError):
            con.execute("ROLLBACK")
            raise
        except Exception as exc:  # a parser bug must not stop the batch: quarantine, report
            con.execute("ROLLBACK")
            sha = hashing.result() if hashing else sha
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            _quarantine(con, path, sha, fmt.name, [Reject("-", f"internal error while parsing: {detail}", "", "InternalError")])
            return FileResult(str(path), fmt.name, "failed", rows_quarantined=1, message=f"internal error: {detail}")
    rows = sink.loaded + sum(sink.other_tables.values())
    return FileResult(str(path), fmt.name, "loaded", rows, sink.duplicate, sink.reject_count)


FEEDBACK_PENDING = ("SELECT EXISTS (SELECT 1 FROM bounces WHERE NOT coalesce(linked, false)) "
                    "OR EXISTS (SELECT 1 FROM complaints WHERE NOT coalesce(linked, false))")
PENDING_GET = "SELECT value FROM store_meta WHERE key = 'load.post_pending'"
PENDING_SET = ("INSERT INTO store_meta VALUES ('load.post_pending', 'true') "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value")


def finish_loads(store: Store) -> bool:
    """Run the post-load steps if a load left them pending; ``True`` if they ran.

    Loaded files mark the store (``store_meta`` ``load.post_pending``) in their own
    transaction; the steps run in one transaction that clears the mark, so a load interrupted
    between its files' commits and these steps is completed by the next load (or by calling
    this): events that do not name their sending IP take their message's
    (``attribute_events.sql``), undecided clicks are judged human or scanner
    (``flag_scanner_clicks.sql``), bounces and complaints from mail are tied to their sends
    (``link_feedback.sql``), send-log failures get the bounce classifier's reasons
    (:mod:`workbench.sources.bounce_texts`) and suppressions are brought up to date
    (``suppression_sync.sql``).

    Raises
    ------
    StoreError
        The store failed.
    """
    from workbench.sources.bounce_texts import refine

    with _loading(store) as con:
        row = _one(con, PENDING_GET)
        if not row or row[0] != "true":
            return False
        con.execute("BEGIN TRANSACTION")
        try:
            # bounces and complaints from mail find the send they answer (also those loaded earlier);
            # nothing to do (and events not read) when none is waiting
            if _one(con, FEEDBACK_PENDING) != (False,):
                con.execute(load_sql("link_feedback"))
            con.execute(load_sql("attribute_events"))
            con.execute(load_sql("flag_scanner_clicks"), {"seconds": SCANNER_CLICK_SECONDS})
            refine(con)  # send-log failure texts classified by the bounce rule tables
            # complaints, hard bounces, unsubscribes and soft-bounce runs suppress their addresses
            con.execute(load_sql("suppression_sync"))
            con.execute("UPDATE store_meta SET value = 'false' WHERE key = 'load.post_pending'")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return True


def _load_staged(sink: FileSink, staged: tuple[Stage, int], options: ParseOptions) -> None:
    stage, index = staged
    member = stage.members[index]
    sink.add_staged(stage, index)
    sink.progress(member.path.stat().st_size)
    if sink.unplaced or index in stage.exact:
        sink.place_rejects(sqlparse.exact_rejects(member.module, member.path, options, member.head))


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
    bad records are quarantined; the batch always completes. Afterwards the post-load steps
    run (:func:`finish_loads`), also when an earlier, interrupted load left them pending.

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
    for group in staging.groups(files, format):
        stage = None
        if len(group) > 1:
            members = [m for m in group if isinstance(m, staging.Member)]
            with _loading(store) as con:
                try:
                    stage = staging.stage(con, members, _options_for(members[0].path, options or ParseOptions()))
                except (InputError, duckdb.Error):
                    staging.drop(con)  # each file alone then: its own error, its own quarantine
        for index, item in enumerate(group):
            path: Path = item.path if isinstance(item, staging.Member) else item
            size = os.path.getsize(path)
            seen = 0

            def tick(nbytes: int, path: Path = path, size: int = size, base: int = done) -> None:
                nonlocal seen
                step = max(0, min(nbytes, size - seen))
                seen += step
                if progress:
                    progress(str(path), base + seen, total)

            result = load_file(store, path, format=format, options=options, on_bytes=tick,
                               staged=(stage, index) if stage is not None else None)
            summary.files.append(result)
            done += size
            if progress:
                progress(str(path), done, total)
            if stage is None:
                store.release()
        if stage is not None:
            with store.writer() as con:
                staging.drop(con)
            store.release()
    finish_loads(store)
    store.release(force=True)
    return summary
