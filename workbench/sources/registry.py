"""The formats ``workbench load`` knows, in sniffing order, and how each one loads.

A format has a name, a ``sniff(head, path)`` test on the first decompressed bytes of a file,
and a ``load(path, sink, options)`` that reads the file through :mod:`workbench.sources.reader`,
parses it with its pure parser and hands records and rejects to the ``sink`` (the store's
per-file transaction). Send-log formats share one implementation; other sources (DMARC,
bounces, complaints) register their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.errors import UnknownFormat
from workbench.sources import contacts, feedback, infrastructure, scan, sqlparse
from workbench.sources.dmarc import load as dmarc_load
from workbench.sources.jsonengine import document_records
from workbench.sources.reader import Reject, read_document
from workbench.sources.sendlogs import generic, kumomta, pmta, postfix, sendgrid, ses
from workbench.sources.sendlogs.base import ParseOptions
from workbench.sources.sqlparse import Query


class Sink(Protocol):
    """Where a format's loader puts what it read (the store's per-file transaction)."""

    def add_events(self, frame: pl.DataFrame) -> None: ...

    def add_event_query(self, query: Query, relation: str, relation_sql: str, params: Mapping[str, object],
                        frames: Mapping[str, object] | None = None, *, unit: str = "line") -> int: ...

    def place_rejects(self, rejects: list[Reject]) -> None: ...

    def file_sha256(self) -> str: ...

    def offer_file_sha256(self, sha: str) -> None: ...

    def add_rows(self, table: str, frame: pl.DataFrame | pa.Table | pa.RecordBatchReader) -> None: ...

    def add_row(self, table: str, row: Mapping[str, object]) -> None: ...

    def upsert_rows(self, table: str, frame: pl.DataFrame) -> None: ...

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame: ...

    def single_threaded(self) -> AbstractContextManager[None]: ...

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
    #: the SQL parser module of a send-log format (lets the store parse small files in groups)
    module: ModuleType | None = None
    #: whether a file may also be one JSON document (an array of records)
    documents: bool = False
    #: whether its loader hashes a file it reads whole in its own pass and offers the hash
    #: (:meth:`Sink.offer_file_sha256`), so that the store need not read the file for it
    hashes_file: bool = False


def _text(head: bytes) -> str:
    return head.decode("utf-8", "replace")


def _send_log(module: ModuleType, *, documents: bool = False) -> Format:
    """A format whose parser is a SQL query (:mod:`workbench.sources.sqlparse`): the store runs
    it over the file in its own connection and inserts in the same statement; records it
    refuses are placed by an exact second pass when the fast one could not say where."""

    def sniff(head: bytes, path: Path) -> bool:
        return bool(module.sniff(_text(head)))

    def load(path: Path, sink: Sink, options: ParseOptions) -> None:
        head = scan.head_of(path, module)
        query = module.query(options, head)
        relation = "lines" if head.kind == "lines" else "records"
        if documents and _is_document(path):
            records, rejects = document_records(read_document(path), str(path))
            sink.add_rejects(rejects)
            if len(records):
                sink.add_event_query(query, relation, sqlparse.relation_of(module, head, "wb_doc"), {},
                                     {"wb_doc": records.to_arrow()}, unit="record")
            sink.progress(path.stat().st_size)
            return
        with scan.plain_copy(path) as (plain, damaged):
            unplaced = sink.add_event_query(query, relation, scan.relation_sql(head), scan.relation_params(plain, head))
        sink.progress(path.stat().st_size)
        if unplaced or damaged:
            sink.place_rejects(sqlparse.exact_rejects(module, path, options, head))

    return Format(module.NAME, module.DESCRIPTION, sniff, load, module, documents)


def is_document(head: bytes) -> bool:
    """A JSON array, or a JSON object spread over several lines (not one record per line)."""
    head = head.lstrip()
    if head.startswith(b"["):
        return True
    if head.startswith(b"{"):
        first = head.split(b"\n", 1)[0].rstrip()
        return not first.endswith(b"}")
    return False


def _is_document(path: Path) -> bool:
    from workbench.sources.reader import read_head

    return is_document(read_head(path, 1 << 16))


def _parquet_sniff(head: bytes, path: Path) -> bool:
    return head.startswith(b"PAR1")


def _parquet_load(path: Path, sink: Sink, options: ParseOptions) -> None:
    with pq.ParquetFile(path) as pf:
        schema = pf.schema_arrow
    head = generic.parquet_head(schema)
    query = generic.query(options, head)
    sink.add_event_query(query, "records", generic.PARQUET_RELATION, {"wb_path": str(path)}, unit="row")
    sink.progress(path.stat().st_size)


FORMATS: list[Format] = [
    Format(infrastructure.NAME, infrastructure.DESCRIPTION, infrastructure.sniff, infrastructure.load),
    Format("dmarc", "DMARC aggregate reports (RFC 7489, RFC 9990, old draft): .xml, .xml.gz, .zip (every member)",
           dmarc_load.sniff_aggregate, dmarc_load.load_reports_file, hashes_file=True),
    Format("tlsrpt", "SMTP TLS reports (RFC 8460 JSON, .json or .json.gz)", dmarc_load.sniff_tlsrpt, dmarc_load.load_reports_file,
           hashes_file=True),
    Format("report-mail", "Mail carrying DMARC aggregate, failure (ARF or plain text) or TLS reports: .eml, mbox, Maildir messages",
           dmarc_load.sniff_mail, dmarc_load.load_mail_file),
    _send_log(pmta),
    _send_log(kumomta),
    _send_log(ses, documents=True),
    _send_log(sendgrid, documents=True),
    _send_log(postfix),
    _send_log(generic),
    Format(contacts.NAME, contacts.DESCRIPTION, contacts.sniff, contacts.load),
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
