"""Handing frames to DuckDB inside a transaction.

A frame made visible with ``con.register(name, frame)`` is a view in DuckDB's catalog, and
inside an open transaction DuckDB keeps a dropped view (and the Python object it scans)
until the transaction ends. A file loaded batch by batch in one transaction therefore held
every batch's Arrow memory until its commit: loading one 100k-record DMARC report grew by
~90 MiB more than the rows DuckDB stored. :func:`insert_frame` lets DuckDB find the frame
as a local variable (its replacement scan, bound into the one statement and released with
it): no catalog entry, and a millisecond a call faster than a registered view (a relation's
``.query()`` is slower still: 2.3 against 1.0 ms for a small frame, measured).
"""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa

__all__ = ["insert_frame"]


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame | pa.Table | pa.RecordBatchReader, *,
                 replace: bool = False) -> int:
    """Insert ``frame``'s rows into ``table`` by column name (columns it lacks take their
    defaults); ``replace``: ``INSERT OR REPLACE`` (tables with a primary key). Returns the
    number of rows inserted. A record batch reader is read once, batch by batch, as DuckDB
    inserts (its batches may be made on demand).

    Polars frames go as Arrow: DuckDB reads polars' Arrow export faster than the frame itself
    (a third less time for 100k DMARC records with list-of-struct columns, measured).
    """
    wb_insert_frame_rows = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame  # noqa: F841 (read by DuckDB)
    verb = "INSERT OR REPLACE INTO" if replace else "INSERT INTO"
    # DuckDB resolves the name to the local variable above (no view is created)
    row = con.execute(f'{verb} "{table}" BY NAME SELECT * FROM wb_insert_frame_rows').fetchone()
    return int(row[0]) if row else 0
