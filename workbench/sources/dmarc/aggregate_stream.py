"""Streaming read of large aggregate reports: metadata first, then records in bounded batches.

:class:`AggregateStream` runs the fast engine (xml2arrow's ``parse_batches``, parsing on a
Rust thread) over a document handed as a path, bytes or a binary stream, and turns its
batches into record tables (Arrow, shaped by Arrow compute) as soon as they are complete, so
that a report of any size is read in bounded memory. A record is complete once its own row
has arrived and an authentication result of a later record has been seen (results come in
document order), or at the end of the document.

It refuses, with :class:`FastRefused`, whatever the fast engine cannot read faithfully; the
caller then reads the document with :func:`.aggregate.parse_aggregate` (the tree engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.sources.dmarc.aggregate import (
    AUTH,
    RECORD_COLUMNS,
    RECORD_TABLE,
    _fast_parser,
    _frame,
    _has_report_id,
    _meta,
    _records,
    _records_arrow,
)

__all__ = ["AggregateStream", "FastRefused"]

#: rows and value bytes of a batch from the engine (memory stays bounded by them); 10k
#: records load in ~63.5 ms with batches of 3,584 rows, ~65.5 with 3,072, ~62 with 4,096
#: whose larger batches in flight reached 14–15.5 MiB in one run of seven (against ≤ 13.3)
BATCH_ROWS = 3584
BATCH_BYTES = 4 << 20


class FastRefused(Exception):
    """The fast engine cannot read this document (malformed, unusual shape)."""


class AggregateStream:
    """Metadata (:meth:`read_meta`), then record tables (iteration), of one report.

    Parameters
    ----------
    source:
        A path the engine reads itself, the document's bytes, or a binary stream.
    name:
        Where it came from, for messages.
    head:
        The document's first bytes (namespace detection).
    trimmed:
        Let the engine strip values (only for documents without entity references, CDATA
        or comments: see :func:`.route.prepass`); a fifth less work.
    """

    def __init__(self, source: str | bytes | IO[bytes], name: str, head: bytes, *, trimmed: bool = False) -> None:
        self.name, self.head, self.trimmed = name, head, trimmed
        self.warnings: list[str] = []
        self.meta: dict[str, Any] | None = None
        self.records = 0
        self.messages = 0
        self._batches: Iterator[tuple[str, Any]] = iter(
            _fast_parser(trimmed).parse_batches(source, max_rows_per_batch=BATCH_ROWS, max_bytes_per_batch=BATCH_BYTES))
        self._items: list[pa.Table] = []
        self._auth: list[pa.Table] = []
        self._max_auth = -1
        self._done = False

    def close(self) -> None:
        """Stop the engine (its thread ends once its batches are no longer taken)."""
        self._batches = iter(())
        self._done = True

    def _pull(self) -> bool:
        try:
            name, batch = next(self._batches)
        except StopIteration:
            self._done = True
            return False
        except Exception as exc:
            raise FastRefused(f"{type(exc).__name__}: {exc}") from exc
        table = pa.table(batch)
        if name == "items":
            # once the metadata is read, only record columns are kept
            self._items.append(table.select(RECORD_COLUMNS) if self.meta is not None else table)
        elif table.num_rows:
            self._auth.append(table)
            self._max_auth = max(self._max_auth, table["<item>"][-1].as_py())  # results come in document order
        return True

    def read_meta(self) -> dict[str, Any]:
        """The report's metadata and policy (reads until they are seen).

        Raises
        ------
        FastRefused
            The engine failed, or found no report id (wrapper elements, prefixes).
        ParseError
            No reporter could be told.
        """
        while True:
            items = pa.concat_tables(self._items) if self._items else None
            if items is not None and _has_report_id(items):
                break
            if not self._pull():
                raise FastRefused("no <report_id> under /feedback")
        self.meta = _meta(items, self.head, self.name, self.warnings)
        self._items = [items.select(RECORD_COLUMNS)]
        self.meta["extensions"] = None
        return self.meta

    def __iter__(self) -> Iterator[pa.Table]:
        """Record tables (the ``dmarc_records`` columns but the report key), in order.

        Raises
        ------
        FastRefused
            The engine failed part-way (the caller discards what it took).
        ParseError
            A record has no valid count.
        """
        if self.meta is None:
            self.read_meta()
        while True:
            more = self._pull() if not self._done else False
            # shaped once a batch's worth of record rows waits (shaping has a fixed cost a call)
            if more and sum(table.num_rows for table in self._items) < BATCH_ROWS:
                continue
            ready = self._ready(final=not more)
            if ready is not None:
                yield ready
            if not more:
                return

    def _ready(self, *, final: bool) -> pa.Table | None:
        if not self._items:
            return None
        items = pa.concat_tables(self._items) if len(self._items) > 1 else self._items[0]
        if not items.num_rows and not final:
            return None
        auth = pa.concat_tables(self._auth) if len(self._auth) > 1 else (self._auth[0] if self._auth else None)
        if auth is None:
            auth = pa.table({"<item>": pa.array([], pa.uint32()), "<auth>": pa.array([], pa.uint32()),
                             **{c: pa.array([], pa.string()) for c in AUTH}})
        if final:
            cut_items, cut_auth = items, auth
            self._items, self._auth = [], []
        else:
            # complete: records whose row has arrived and before the last record with results
            # seen; rows come in document order, so the complete ones are a slice
            limit = min(self._max_auth, items["<item>"][-1].as_py() + 1)
            at = int(np.searchsorted(items["<item>"].to_numpy(), limit))
            if not at:
                return None
            cut_items, self._items = items.slice(0, at), [items.slice(at)]
            at = int(np.searchsorted(auth["<item>"].to_numpy(), limit))
            cut_auth, self._auth = auth.slice(0, at), [auth.slice(at)]
        table = _records_arrow(cut_items, cut_auth, first_no=self.records, trimmed=self.trimmed)
        if table is None:  # a value that needs the exact handling (or the refusal) of _records
            frame = _records(_frame(cut_items), _frame(cut_auth), {}, self.name, first_no=self.records, trimmed=self.trimmed)
            table = frame.to_arrow().cast(RECORD_TABLE)
        self.records += table.num_rows
        self.messages += int(pc.sum(table["count"]).as_py() or 0)
        return table if table.num_rows else None
