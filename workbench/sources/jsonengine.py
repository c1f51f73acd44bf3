"""JSON records through an in-memory DuckDB: lenient, vectorised, one parse per record.

DuckDB's ``json_transform`` reads only the fields a structure names, casts leniently
(``"5"`` to a number, a number to text) and, wrapped in ``try``, yields NULL for a
malformed record instead of failing the chunk. The connection is in memory and private to
the parser: it never touches the store's database file.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import duckdb
import polars as pl

from workbench.sources.reader import Reject

_local = threading.local()


class JsonEngine:
    """An in-memory DuckDB, one per thread, shared by the parsers of that thread."""

    def __init__(self) -> None:
        con = getattr(_local, "con", None)
        if con is None:
            con = duckdb.connect(":memory:")
            with contextlib.suppress(duckdb.Error):  # refused as a connect-time option
                con.execute("SET enable_progress_bar = false")
            con.execute("SET preserve_insertion_order = true")
            _local.con = con
        self.con: duckdb.DuckDBPyConnection = con

    def run(self, sql: str, **frames: pl.DataFrame) -> pl.DataFrame:
        """Run ``sql`` over the given frames (visible under their keyword names)."""
        for name, frame in frames.items():
            self.con.register(name, frame)
        try:
            result = self.con.sql(sql).pl()
        finally:
            for name in frames:
                self.con.unregister(name)
        assert isinstance(result, pl.DataFrame)
        return result


def structure(spec: dict[str, Any]) -> str:
    """A ``json_transform`` structure literal, quoted for SQL."""
    return "'" + json.dumps(spec).replace("'", "''") + "'"


def document_records(data: bytes, source: str) -> tuple[pl.DataFrame, list[Reject]]:
    """The records of a JSON document: the elements of a top-level array, or the object.

    Returns a frame shaped like a line chunk (``line_no`` is the element's index from 1,
    ``line`` its JSON text).
    """
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        position = f"byte {getattr(exc, 'pos', getattr(exc, 'start', 0))}"
        excerpt = data[:200].decode("utf-8", "backslashreplace")
        return _empty(), [Reject(position, f"not valid JSON: {exc}", excerpt)]
    items = value if isinstance(value, list) else [value]
    texts = [json.dumps(item) for item in items]
    frame = pl.DataFrame(
        {"line_no": pl.Series(range(1, len(texts) + 1), dtype=pl.Int64), "line": pl.Series(texts, dtype=pl.Utf8)}
    )
    return frame, []


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"line_no": pl.Int64, "line": pl.Utf8})


def rejects_from(frame: pl.DataFrame, reason: str, unit: str = "line") -> list[Reject]:
    """Rejects for rows (``line_no``, ``line``) of records that could not be used;
    ``unit`` names the position ("line", or "record" inside a JSON array)."""
    return [
        Reject(f"{unit} {n}", reason, (text or "")[:200])
        for n, text in frame.select("line_no", "line").head(10_000).iter_rows()
    ]
