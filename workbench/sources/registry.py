"""The formats ``workbench load`` knows, in sniffing order, and how each one loads.

A format has a name, a ``sniff(head, path)`` test on the first decompressed bytes of a file,
and a ``load(path, sink, options)`` that reads the file through :mod:`workbench.sources.reader`,
parses it with its pure parser and hands records and rejects to the ``sink`` (the store's
per-file transaction). Send-log formats share one implementation; other sources (DMARC,
bounces, complaints) register their own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol, TypeVar

import polars as pl
import pyarrow.parquet as pq

from workbench.errors import UnknownFormat
from workbench.sources import feedback, infrastructure
from workbench.sources.dmarc import load as dmarc_load
from workbench.sources.reader import Reject, iter_line_chunks, read_document
from workbench.sources.sendlogs import generic, kumomta, pmta, postfix, sendgrid, ses
from workbench.sources.sendlogs.base import Parsed, ParseOptions


class Sink(Protocol):
    """Where a format's loader puts what it read (the store's per-file transaction)."""

    def add_events(self, frame: pl.DataFrame) -> None: ...

    def add_rows(self, table: str, frame: pl.DataFrame) -> None: ...

    def upsert_rows(self, table: str, frame: pl.DataFrame) -> None: ...

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame: ...

    def count_duplicates(self, n: int) -> None: ...

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

    def parsed(path: Path, options: ParseOptions) -> Iterator[tuple[Parsed, int]]:
        parser = module.Parser(options)
        if documents and _is_document(path):
            yield parser.parse_document(read_document(path)), 0
            return
        for chunk in iter_line_chunks(path):
            result = parser.feed(chunk)
            result.rejects[:0] = chunk.rejects
            yield result, len(chunk.raw) if chunk.raw is not None else int(chunk.lines["line"].str.len_bytes().sum() or 0)
        yield parser.finish(), 0

    def load(path: Path, sink: Sink, options: ParseOptions) -> None:
        for result, nbytes in pipelined(parsed(path, options)):
            _emit(sink, result)
            sink.progress(nbytes)

    return Format(module.NAME, module.DESCRIPTION, sniff, load)


T = TypeVar("T")
_DONE = object()


def pipelined(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` in a background thread while the caller consumes them.

    Parsing (polars, an in-memory DuckDB) and inserting into the store both release the GIL,
    so reading chunk n+1 overlaps storing chunk n. At most ``depth`` items wait in memory.
    An exception in the producer is raised in the consumer.
    """
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put(item)
            box.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            box.put(exc)

    worker = threading.Thread(target=produce, name="workbench-parse", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(0.05)
        close = getattr(items, "close", None)
        if close is not None:
            close()


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


def _parquet_batches(path: Path, options: ParseOptions) -> Iterator[tuple[Parsed, int]]:
    parser = generic.Parser(options)
    row = 1
    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=1 << 20):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield parser.feed_frame(frame, row), batch.nbytes
            row += len(frame)


def _parquet_load(path: Path, sink: Sink, options: ParseOptions) -> None:
    for result, nbytes in pipelined(_parquet_batches(path, options)):
        _emit(sink, result)
        sink.progress(nbytes)


FORMATS: list[Format] = [
    Format(infrastructure.NAME, infrastructure.DESCRIPTION, infrastructure.sniff, infrastructure.load),
    Format("dmarc", "DMARC aggregate reports (RFC 7489, RFC 9990, old draft): .xml, .xml.gz, .zip (every member)",
           dmarc_load.sniff_aggregate, dmarc_load.load_reports_file),
    Format("tlsrpt", "SMTP TLS reports (RFC 8460 JSON, .json or .json.gz)", dmarc_load.sniff_tlsrpt, dmarc_load.load_reports_file),
    Format("report-mail", "Mail carrying DMARC aggregate, failure (ARF or plain text) or TLS reports: .eml, mbox, Maildir messages",
           dmarc_load.sniff_mail, dmarc_load.load_mail_file),
    _send_log(pmta),
    _send_log(kumomta),
    _send_log(ses, documents=True),
    _send_log(sendgrid, documents=True),
    _send_log(postfix),
    _send_log(generic),
    Format("parquet", "Parquet events in the canonical columns, or with a column mapping", _parquet_sniff, _parquet_load),
    Format(feedback.NAME, feedback.DESCRIPTION, feedback.sniff, feedback.load),
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
