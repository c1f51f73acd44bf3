"""insert_frame: frames handed to DuckDB inside a transaction, by column name, released at once."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from workbench.store.frames import insert_frame


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "frames.duckdb"))
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR, tags STRUCT(k VARCHAR, v VARCHAR)[], "
                "note VARCHAR DEFAULT 'none')")
    return con


def test_rows_go_in_by_name_with_defaults_for_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
    frame = pl.DataFrame({"tags": [[{"k": "a", "v": "1"}], None], "name": ["x", "y"], "id": [1, 2]})
    assert insert_frame(con, "t", frame) == 2
    assert con.execute("SELECT id, name, tags, note FROM t ORDER BY id").fetchall() == [
        (1, "x", [{"k": "a", "v": "1"}], "none"), (2, "y", None, "none")]


def test_replace_overwrites_by_primary_key_and_plain_insert_refuses(con: duckdb.DuckDBPyConnection) -> None:
    insert_frame(con, "t", pl.DataFrame({"id": [1], "name": ["old"]}))
    with pytest.raises(duckdb.ConstraintException):
        insert_frame(con, "t", pl.DataFrame({"id": [1], "name": ["new"]}))
    insert_frame(con, "t", pa.table({"id": [1], "name": ["new"]}), replace=True)
    assert con.execute("SELECT name FROM t").fetchall() == [("new",)]


def test_a_batch_is_released_before_the_transaction_ends(con: duckdb.DuckDBPyConnection) -> None:
    # a view registered and dropped inside a transaction keeps its Arrow table alive until the
    # commit: a file loaded in many batches held them all (a 100k-record DMARC report: ~90 MiB)
    con.execute("BEGIN")
    batches = [pa.table({"id": list(range(i * 100, i * 100 + 100)), "tags": [[{"k": "a", "v": "b"}]] * 100})
               for i in range(5)]
    refs = [weakref.ref(b) for b in batches]
    for batch in batches:
        insert_frame(con, "t", batch)
    del batch, batches
    gc.collect()
    assert [r() for r in refs] == [None] * 5, "DuckDB still holds batches inside the open transaction"
    assert con.execute("SELECT count(*) FROM t").fetchone() == (500,)
    con.execute("COMMIT")
    assert not con.execute("SELECT * FROM duckdb_views() WHERE NOT internal").fetchall()


def test_a_reader_is_read_batch_by_batch_as_it_is_inserted(con: duckdb.DuckDBPyConnection) -> None:
    # a stream whose batches are made on demand (a large DMARC report, parsed as DuckDB reads)
    schema = pa.schema([("id", pa.int32()), ("name", pa.string())])
    made: list[int] = []

    def batches():  # type: ignore[no-untyped-def]
        for i in range(3):
            made.append(i)
            yield pa.record_batch({"id": pa.array(range(i * 10, i * 10 + 10), pa.int32()), "name": ["n"] * 10}, schema=schema)

    con.execute("BEGIN")
    assert insert_frame(con, "t", pa.RecordBatchReader.from_batches(schema, batches())) == 30  # DuckDB's own count
    assert made == [0, 1, 2] and con.execute("SELECT count(*), min(note) FROM t").fetchone() == (30, "none")
    con.execute("COMMIT")
