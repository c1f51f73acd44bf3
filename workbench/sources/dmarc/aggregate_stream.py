"""Streaming read of large aggregate reports: metadata first, then records in bounded batches.

:class:`AggregateStream` runs the fast engine (xml2arrow's ``parse_batches``, parsing on a
Rust thread) over a document handed as a path, bytes or a binary stream, and turns its
batches into record frames as soon as they are complete, so that a report of any size is
read in bounded memory. A record is complete once its own row has arrived and an
authentication result of a later record has been seen (results come in document order), or
at the end of the document.

It refuses, with :class:`FastRefused`, whatever the fast engine cannot read faithfully; the
caller then reads the document with :func:`.aggregate.parse_aggregate` (the tree engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import polars as pl

from workbench.sources.dmarc.aggregate import AUTH, RECORD_COLUMNS, _fast_parser, _meta, _records

__all__ = ["AggregateStream", "FastRefused"]

#: rows and value bytes of a batch from the engine (memory stays bounded by them)
BATCH_ROWS = 8192
BATCH_BYTES = 4 << 20


class FastRefused(Exception):
    """The fast engine cannot read this document (malformed, unusual shape)."""


class AggregateStream:
    """Metadata (:meth:`read_meta`), then record frames (iteration), of one report.

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
        self._items: list[pl.DataFrame] = []
        self._auth: list[pl.DataFrame] = []
        self._max_auth = -1
        self._done = False

    def _pull(self) -> bool:
        try:
            name, batch = next(self._batches)
        except StopIteration:
            self._done = True
            return False
        except Exception as exc:
            raise FastRefused(f"{type(exc).__name__}: {exc}") from exc
        if name == "items" and self.meta is not None:
            batch = batch.select(RECORD_COLUMNS)  # metadata is read: only record columns are kept
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if name == "items":
            self._items.append(frame)
        elif len(frame):
            self._auth.append(frame)
            self._max_auth = max(self._max_auth, int(frame["<item>"].max()))  # type: ignore[arg-type]
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
            items = pl.concat(self._items) if self._items else None
            if items is not None and items["report_id"].null_count() < len(items):
                break
            if not self._pull():
                raise FastRefused("no <report_id> under /feedback")
        self.meta = _meta(items, self.head, self.name, self.warnings)
        self._items = [items.select(RECORD_COLUMNS)]
        self.meta["extensions"] = None
        return self.meta

    def __iter__(self) -> Iterator[pl.DataFrame]:
        """Record frames (the ``dmarc_records`` columns but the report key), in order.

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
            if more and sum(len(frame) for frame in self._items) < BATCH_ROWS:
                continue
            ready = self._ready(final=not more)
            if ready is not None:
                yield ready
            if not more:
                return

    def _ready(self, *, final: bool) -> pl.DataFrame | None:
        if not self._items:
            return None
        items = pl.concat(self._items) if len(self._items) > 1 else self._items[0]
        if items.is_empty() and not final:
            return None
        auth = pl.concat(self._auth) if len(self._auth) > 1 else (self._auth[0] if self._auth else None)
        if final:
            cut_items, cut_auth = items, auth
            self._items, self._auth = [], []
        else:
            # complete: records whose row has arrived and before the last record with results seen
            limit = min(self._max_auth, int(items["<item>"].max()) + 1)  # type: ignore[arg-type]
            cut_items = items.filter(pl.col("<item>") < limit)
            if cut_items.is_empty():
                return None
            self._items = [items.filter(pl.col("<item>") >= limit)]
            if auth is not None:
                cut_auth = auth.filter(pl.col("<item>") < limit)
                self._auth = [auth.filter(pl.col("<item>") >= limit)]
            else:
                cut_auth = None
        if cut_auth is None:
            cut_auth = pl.DataFrame(schema={"<item>": pl.UInt32, "<auth>": pl.UInt32, **dict.fromkeys(AUTH, pl.Utf8)})
        frame = _records(cut_items, cut_auth, {}, self.name, first_no=self.records, trimmed=self.trimmed)
        self.records += len(frame)
        self.messages += int(frame["count"].sum() or 0)
        return frame if len(frame) else None

