"""The ``contacts`` load format: a contacts table as CSV (plain, .gz, .zst) or Parquet.

Recognised by its header: an email column (``email``, ``E-mail``, ``email_address``, …)
and no event columns (``ts``, ``event_type``). Rows are parsed into the attribute schema by
:func:`workbench.audience.contacts.parse_frame`, checked across the file by a
:class:`~workbench.audience.contacts.Stager` and merged into ``contacts`` by
``workbench/sql/contacts_merge.sql`` in the file's transaction; rejected rows go to
``quarantine`` with their line and reason. The file speaks for its modification time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from workbench.audience.contacts import Stager, parse_frame, sniff_header
from workbench.sources.csvchunks import CsvChunks
from workbench.sources.reader import iter_line_chunks
from workbench.store import load_sql

NAME = "contacts"
DESCRIPTION = "contacts (CSV or Parquet with an email column): attributes, lists; upserted by email"


def sniff(head: bytes, path: Path) -> bool:
    """A CSV header, or a Parquet schema, with an email column and no event columns."""
    if head.startswith(b"PAR1"):
        try:
            return sniff_header(pq.read_schema(path).names)
        except Exception:  # not readable as Parquet: another format's business
            return False
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    first = text.split("\n", 1)[0].strip("\r")
    if not first or first.lstrip().startswith(("{", "[", "<")):
        return False
    try:
        names = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return False
    return sniff_header(names)


def _frames(path: Path, head: bytes) -> Iterator[tuple[pl.DataFrame, list[Any], int]]:
    if head.startswith(b"PAR1"):
        row = 2
        with pq.ParquetFile(path) as pf:
            for batch in pf.iter_batches(batch_size=200_000):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                frame = frame.with_columns(pl.all().cast(pl.Utf8)).with_columns(
                    _line_no=pl.int_range(row, row + len(frame), dtype=pl.Int64))
                row += len(frame)
                yield frame, [], batch.nbytes
        return
    reader = CsvChunks()
    for chunk in iter_line_chunks(path, chunk_bytes=8 << 20):
        if reader.header is None and len(chunk.lines):
            chunk.lines = chunk.lines.with_columns(pl.col("line").str.strip_prefix("\ufeff"))
            chunk.raw = None
        frame, rejects = reader.read(chunk)
        size = len(chunk.raw) if chunk.raw is not None else int(chunk.lines["line"].str.len_bytes().sum() or 0)
        yield frame, [*chunk.rejects, *rejects], size


def load(path: Path, sink: Any, options: Any) -> None:
    """Stage every row of the file and merge them when the file's transaction commits."""
    from workbench.sources.reader import read_head

    as_of = options.reference_time or datetime.now(UTC)
    as_of = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
    mapping = dict(options.mapping or {})
    stager = Stager()
    for frame, rejects, nbytes in _frames(path, read_head(path, 4)):
        sink.add_rejects(rejects)
        if len(frame):
            rows, bad = parse_frame(frame, source=str(path), as_of=as_of, mapping=mapping)
            sink.add_rejects(bad)
            sink.add_rejects(stager.feed(rows, sink))
        sink.progress(nbytes)
    sink.after_commit_sql(load_sql("contacts_merge"))
