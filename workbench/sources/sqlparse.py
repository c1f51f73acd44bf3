"""SQL parsers: send-log formats as DuckDB queries over the lines or records of a file.

A send-log parser module gives ``NAME``, ``DESCRIPTION``, ``INPUT`` (``"lines"``, CSV
``"records"``, ``"json"`` records of the fields its ``FIELDS`` structure names, or ``"auto"``:
``input_of(text)`` says), ``sniff(head)`` and ``query(options, head) -> Query``: a SELECT over
the relation ``lines`` (``line_no``, ``line``) or ``records`` (the CSV header's columns as
text, or the JSON fields typed, and ``_line_no``, ``_line``) that yields canonical columns (:data:`~workbench.sources.events.PARSED_COLUMNS`,
any subset), ``key``, and ``reject`` (why the record is refused, NULL when it is not, ``''``
for a record skipped on purpose) with ``line_no`` and ``line`` to say where and what. A
parser does not filter rows itself (see :func:`accepted`).

The query is pure: it never names a file. When loading, the store binds ``lines`` /
``records`` to DuckDB's own reader of the file (:mod:`workbench.sources.scan`) and inserts
the result in the same statement; in tests and for JSON documents they are bound to an
in-memory frame (:func:`run`). Refused records leave the query through the
``workbench_reject(line_no, reason, line)`` function (:class:`RejectSink`), which sees only
them, so that one pass over the file both inserts and quarantines.
"""

from __future__ import annotations

import csv
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from workbench.sources.csvchunks import CsvChunks
from workbench.sources.events import PARSED_COLUMNS, conform_sql
from workbench.sources.reader import Reject, iter_line_chunks

#: rejects kept per file (with their place); more are counted
MAX_REJECTS = 10_000


@dataclass(frozen=True)
class Head:
    """What a parser may learn from the start of a file before reading it all.

    Attributes
    ----------
    text:
        The first decompressed bytes, decoded (sniffing, time stamp styles).
    kind:
        What the parser reads: ``"lines"`` or CSV ``"records"``.
    columns:
        For CSV input: the header's names as the ``records`` relation names them.
    types:
        For columnar input (Parquet): DuckDB's type of each column (else all text).
    """

    text: str = ""
    kind: str = "lines"
    columns: tuple[str, ...] = ()
    types: Mapping[str, str] = field(default_factory=dict)

    def first_record(self) -> list[str]:
        """The fields of the first data record of a CSV head (empty when unknown)."""
        import csv

        lines = self.text.split("\n")
        for line in lines[1:-1]:  # the last one may be cut
            if line.strip():
                try:
                    return next(csv.reader([line.rstrip("\r")]))
                except (csv.Error, StopIteration):
                    return []
        return []


@dataclass(frozen=True)
class Query:
    """A parser's SELECT, its named parameters, and whether its addresses are already clean."""

    sql: str
    params: Mapping[str, object] = field(default_factory=dict)
    clean: bool = False


class RejectSink:
    """Collects the records a query refuses (``workbench_reject``), thread-safe.

    Rejects whose place is known (``line_no``) are kept up to :data:`MAX_REJECTS`; those
    read straight from a file have none and are only counted (``unplaced``), so that the
    loader can find their places in a second, exact pass.
    """

    def __init__(self, unit: str = "line") -> None:
        self.unit = unit
        self.rejects: list[Reject] = []
        self.count = 0
        self.unplaced = 0
        self._lock = threading.Lock()

    def take(self, line_no: pa.Array, reason: pa.Array, line: pa.Array) -> pa.Array:
        refused = pc.is_valid(reason)
        keep = pc.and_(refused, pc.is_valid(line_no))
        with self._lock:
            n = pc.sum(refused).as_py() or 0
            placed = pc.sum(keep).as_py() or 0
            self.count += n
            self.unplaced += n - placed
            room = MAX_REJECTS - len(self.rejects)
            if placed and room > 0:
                rows = pa.table({"n": line_no, "r": reason, "l": line}).filter(keep).slice(0, room)
                for n_, r_, l_ in zip(*(rows[c].to_pylist() for c in ("n", "r", "l")), strict=True):
                    self.rejects.append(Reject(f"{self.unit} {n_}", r_, (l_ or "")[:200]))
        return pc.invert(refused)


_SLOTS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, list[RejectSink]] = weakref.WeakKeyDictionary()
_SLOTS_LOCK = threading.Lock()


def reject_function(con: duckdb.DuckDBPyConnection, sink: RejectSink) -> None:
    """Make ``workbench_reject(line_no, reason, line)`` on ``con`` feed ``sink`` (registered
    once per connection; later calls only switch the sink)."""
    with _SLOTS_LOCK:
        slot = _SLOTS.get(con)
        if slot is None:
            slot = [sink]
            _SLOTS[con] = slot

            def take(line_no: pa.Array, reason: pa.Array, line: pa.Array) -> pa.Array:
                return slot[0].take(line_no, reason, line)

            args: tuple[Any, ...] = (
                "workbench_reject", take,
                [duckdb.sqltype("BIGINT"), duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
                duckdb.sqltype("BOOLEAN"),
            )
            kwargs: dict[str, Any] = {"type": "arrow", "null_handling": "special", "side_effects": True}
            try:
                con.create_function(*args, **kwargs)
            except duckdb.NotImplementedException:  # registered through another wrapper of the connection
                con.remove_function("workbench_reject")
                con.create_function(*args, **kwargs)
        slot[0] = sink


def accepted(sql: str) -> str:
    """``sql`` (conformed) without its refused rows, which go to ``workbench_reject``, nor
    those it skips (``reject = ''``: records of no interest, like SendGrid's resubscribes).

    Parsers filter only here: this filter calls a function with side effects, which DuckDB
    never pushes down, whereas a plain ``WHERE`` on a parsed field would be pushed below the
    projection that parses it and the parse done twice.
    """
    return (
        "SELECT * EXCLUDE (reject, line_no, line) FROM (" + sql + ") _a "
        "WHERE CASE WHEN reject IS NULL THEN true WHEN reject = '' THEN false "
        "ELSE workbench_reject(line_no, reject, line) END"
    )


def checked_lines(relation: str) -> str:
    """The ``lines`` of ``relation`` without those holding a control character U+0001
    (never in a log line or a JSON record; DuckDB's line reader splits on it)."""
    return (
        f"SELECT line_no, line FROM ({relation}) _l WHERE CASE WHEN NOT contains(line, chr(1)) THEN true "
        "ELSE workbench_reject(line_no, 'control character U+0001 in the line', line) END"
    )


def bind(query: Query, relation: str, relation_sql: str) -> str:
    """The parser's query with its input relation defined as ``relation_sql``."""
    return f"WITH {relation} AS ({relation_sql}) SELECT * FROM ({query.sql}) _q"


_COLUMNS: dict[str, dict[str, str]] = {}


def columns_of(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> dict[str, str]:
    """The columns of a query and their DuckDB types (bound, not run; remembered for the same
    query and parameters other than the file's path, as a folder of daily files repeats it)."""
    key = sql + repr(sorted((k, repr(v) if k == "wb_columns" else type(v).__name__) for k, v in params.items()))
    found = _COLUMNS.get(key)
    if found is None:
        rows = con.execute(f"DESCRIBE {sql}", dict(params) if params else None).fetchall()
        found = {str(r[0]): str(r[1]) for r in rows}
        if len(_COLUMNS) > 256:
            _COLUMNS.clear()
        _COLUMNS[key] = found
    return found


def sql_type(spec: object) -> str:
    """DuckDB's type for a ``json_transform`` structure (``{"a": "VARCHAR"}`` -> ``STRUCT("a" VARCHAR)``)."""
    if isinstance(spec, dict):
        return "STRUCT(" + ", ".join('"' + k.replace('"', '""') + '" ' + sql_type(v) for k, v in spec.items()) + ")"
    if isinstance(spec, list):
        return sql_type(spec[0]) + "[]"
    return str(spec)


def json_types(fields: dict[str, object]) -> dict[str, str]:
    """The DuckDB type of each top-level field of a JSON structure."""
    return {name: sql_type(spec) for name, spec in fields.items()}


def header_names(line: str, *, lower: bool) -> tuple[str, ...]:
    """A CSV header's names, stripped (lower-cased when asked), made unique."""
    try:
        names = next(csv.reader([line.rstrip("\r")]))
    except (csv.Error, StopIteration):
        names = []
    out: list[str] = []
    for raw in names:
        name = raw.strip().lower() if lower else raw
        base, n = name, 2
        while name in out or name in ("_line_no", "_line"):
            name, n = f"{base}_{n}", n + 1
        out.append(name)
    return tuple(out)


def head_for(module: ModuleType, text: str = "") -> Head:
    """The :class:`Head` of a file starting with ``text`` for ``module``: what it reads
    (``module.INPUT``, or ``module.input_of(text)`` when that is ``"auto"``) and, for CSV,
    the header's names; for JSON, the fields' types."""
    text = text.lstrip("\ufeff")
    kind = module.input_of(text) if module.INPUT == "auto" else module.INPUT
    if kind == "json":
        return Head(text, "json", tuple(module.FIELDS), json_types(module.FIELDS))
    if kind != "records":
        return Head(text, "lines")
    return Head(text, "records", header_names(text.split("\n", 1)[0], lower=getattr(module, "LOWER_HEADER", False)))


def relation_of(module: ModuleType, head: Head, frame: str) -> str:
    """SQL of the parser's input relation over a registered frame of ``lines`` (CSV:
    ``records`` already): JSON lines become records through ``json_transform``, a line that
    is not a JSON object a row of NULLs (as DuckDB's JSON reader makes of it)."""
    if head.kind == "records":
        return f"SELECT * FROM {frame}"
    lines = checked_lines(f"SELECT line_no, line FROM {frame}")
    if head.kind == "json":
        from workbench.sources.jsonengine import structure

        return (f"SELECT j.*, line_no AS _line_no, line AS _line FROM ("
                f"SELECT line_no, line, try(json_transform(line, {structure(module.FIELDS)})) AS j FROM ({lines}) _c) _j")
    return lines


# -- running a parser over frames (tests, documents, the exact pass) --------------------------------


@dataclass
class Result:
    """Canonical events and refused records of a run."""

    events: pl.DataFrame
    rejects: list[Reject]


def run(module: ModuleType, frame: pl.DataFrame, options: Any, head: Head | None = None, *, unit: str = "line",
        keep_events: bool = True) -> Result:
    """Run ``module``'s parser over ``frame`` (``lines`` or ``records``) in a private
    in-memory DuckDB; the conformed events (with ``key``) and the rejects, placed by the
    frame's line numbers."""
    from workbench.sources.jsonengine import JsonEngine

    engine = JsonEngine()
    head = head or head_for(module)
    query = module.query(options, head)
    name = "lines" if head.kind == "lines" else "records"
    sink = RejectSink(unit)
    reject_function(engine.con, sink)
    engine.con.register("wb_input", frame.to_arrow())
    try:
        relation = relation_of(module, head, "wb_input")
        sql = bind(query, name, relation)
        if not keep_events:  # only the refused records, straight from the parser
            refused = engine.con.sql(f"SELECT line_no, reject, line FROM ({sql}) _r WHERE reject <> ''",
                                     params=dict(query.params) or None).fetchall()
            rejects = [Reject(f"{unit} {n}", r, (text or "")[:200]) for n, r, text in refused]
            return Result(pl.DataFrame(schema=PARSED_COLUMNS), [*sink.rejects, *rejects])
        present = columns_of(engine.con, sql, query.params)
        full = accepted(conform_sql(sql, present, clean=query.clean))
        events = engine.con.sql(full, params=dict(query.params) or None).pl()
    finally:
        engine.con.unregister("wb_input")
    return Result(events.cast(PARSED_COLUMNS), sink.rejects)  # type: ignore[arg-type]


def exact_input(module: ModuleType, path: Path, head: Head, *, chunk_bytes: int | None = None) -> Iterator[tuple[pl.DataFrame, list[Reject]]]:
    """The file read by the streaming reader, with exact line numbers: frames of ``lines``
    (or CSV ``records``) and the reader's own rejects (bad UTF-8, truncation)."""
    kw = {"chunk_bytes": chunk_bytes} if chunk_bytes else {}
    csv = CsvChunks(lower_names=getattr(module, "LOWER_HEADER", False)) if head.kind == "records" else None
    for chunk in iter_line_chunks(path, **kw):  # type: ignore[arg-type]
        if csv is None:
            yield chunk.lines, list(chunk.rejects)
            continue
        records, rejects = csv.read(chunk)
        if csv.header is not None and records.width:
            records = records.rename(dict(zip(records.columns[: len(head.columns)], head.columns, strict=False)))
        yield records, [*chunk.rejects, *rejects]


def exact_rejects(module: ModuleType, path: Path, options: Any, head: Head) -> list[Reject]:
    """Every record of ``path`` that the parser refuses, with its exact place (a second,
    slower pass, run only when the fast one refused something)."""
    out: list[Reject] = []
    for frame, rejects in exact_input(module, path, head):
        out += rejects
        if frame.width and len(frame):
            out += run(module, frame, options, head, keep_events=False).rejects
        if len(out) >= MAX_REJECTS:
            break
    return out


def parse_file(module: ModuleType, path: Path, options: Any, *, chunk_bytes: int | None = None) -> Result:
    """Parse a whole (small) file in memory: the events and the rejects (tests, examples)."""
    from workbench.sources.scan import head_of

    head = head_of(path, module)  # reads the file's start
    frames, rejects = [], []
    for frame, chunk_rejects in exact_input(module, path, head, chunk_bytes=chunk_bytes):
        rejects += chunk_rejects
        if frame.width:
            frames.append(frame)
    if not frames:
        return Result(pl.DataFrame(schema=PARSED_COLUMNS), rejects)
    whole = pl.concat(frames, how="diagonal_relaxed")
    result = run(module, whole, options, head)
    result.rejects[:0] = rejects
    return result
