"""The formats ``workbench load`` knows, in sniffing order, and how each one loads.

A format has a name, a ``sniff(head, path)`` test on the first decompressed bytes of a file,
and a ``load(path, sink, options)`` that reads the file through :mod:`workbench.sources.reader`,
parses it with its pure parser and hands records and rejects to the ``sink`` (the store's
per-file transaction). Send-log formats share one implementation; other sources (DMARC,
bounces, complaints) register their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import polars as pl
import pyarrow.parquet as pq

from workbench.errors import UnknownFormat
from workbench.sources import infrastructure
from workbench.sources.reader import Reject, iter_line_chunks, read_document
from workbench.sources.sendlogs import generic, kumomta, pmta, postfix, sendgrid, ses
from workbench.sources.sendlogs.base import Parsed, ParseOptions


class Sink(Protocol):
    """Where a format's loader puts what it read (the store's per-file transaction)."""

    def add_events(self, frame: pl.DataFrame) -> None: ...

    def add_rows(self, table: str, frame: pl.DataFrame) -> None: ...

    def upsert_rows(self, table: str, frame: pl.DataFrame) -> None: ...

    def after_commit_sql(self, *statements: str) -> None: ...

    def add_rejects(self, rejects: list[Reject]) -> None: ...

    def progress(self, nbytes: int) -> None: ...


@dataclass(frozen=True)
class Format:
    """A loadable format."""

    name: str
    description: str
    sniff: Callable[[bytes, Path], bool]
    load: Callable[[Path, Sink, ParseOptions], None]


def _text(head: bytes) -> str:
    return head.decode("utf-8", "replace")


def _send_log(module: ModuleType, *, documents: bool = False) -> Format:
    def sniff(head: bytes, path: Path) -> bool:
        return bool(module.sniff(_text(head)))

    def load(path: Path, sink: Sink, options: ParseOptions) -> None:
        parser = module.Parser(options)
        if documents and _is_document(path):
            _emit(sink, parser.parse_document(read_document(path)))
            return
        for chunk in iter_line_chunks(path):
            sink.add_rejects(chunk.rejects)
            _emit(sink, parser.feed(chunk))
            sink.progress(len(chunk.raw) if chunk.raw is not None else int(chunk.lines["line"].str.len_bytes().sum() or 0))
        _emit(sink, parser.finish())

    return Format(module.NAME, module.DESCRIPTION, sniff, load)


def _emit(sink: Sink, parsed: Parsed) -> None:
    sink.add_rejects(parsed.rejects)
    if len(parsed.events):
        sink.add_events(parsed.events)


def _is_document(path: Path) -> bool:
    """A JSON array, or a JSON object spread over several lines (not one record per line)."""
    from workbench.sources.reader import read_head

    head = read_head(path, 1 << 16).lstrip()
    if head.startswith(b"["):
        return True
    if head.startswith(b"{"):
        first = head.split(b"\n", 1)[0].rstrip()
        return not first.endswith(b"}")
    return False


def _parquet_sniff(head: bytes, path: Path) -> bool:
    return head.startswith(b"PAR1")


def _parquet_load(path: Path, sink: Sink, options: ParseOptions) -> None:
    parser = generic.Parser(options)
    row = 1
    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=1 << 20):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            _emit(sink, parser.feed_frame(frame, row))
            row += len(frame)
            sink.progress(batch.nbytes)


FORMATS: list[Format] = [
    Format(infrastructure.NAME, infrastructure.DESCRIPTION, infrastructure.sniff, infrastructure.load),
    _send_log(pmta),
    _send_log(kumomta),
    _send_log(ses, documents=True),
    _send_log(sendgrid, documents=True),
    _send_log(postfix),
    _send_log(generic),
    Format("parquet", "Parquet events in the canonical columns, or with a column mapping", _parquet_sniff, _parquet_load),
]


def register(fmt: Format, *, first: bool = False) -> None:
    """Add a format (``first``: sniffed before the others). Replaces one of the same name."""
    FORMATS[:] = [f for f in FORMATS if f.name != fmt.name]
    FORMATS.insert(0, fmt) if first else FORMATS.append(fmt)


def by_name(name: str) -> Format:
    """The format called ``name``.

    Raises
    ------
    UnknownFormat
        No format has that name.
    """
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise UnknownFormat("--format", None, f"no format named {name!r}; known: {', '.join(f.name for f in FORMATS)}")


def detect(path: Path, head: bytes) -> Format:
    """The first format whose sniff accepts ``head``.

    Raises
    ------
    UnknownFormat
        None did; the message lists the formats and says how to force one.
    """
    for fmt in FORMATS:
        if fmt.sniff(head, path):
            return fmt
    excerpt = head[:200].decode("utf-8", "backslashreplace")
    raise UnknownFormat(
        str(path),
        "start of file",
        f"not a format workbench recognises ({', '.join(f.name for f in FORMATS)}); "
        "name one with --format, or map columns with --format generic --map ts=... --map event_type=...",
        excerpt,
    )
