"""The DMARC formats of ``workbench load``: sniffing, and writing reports into the store.

Three formats, sniffed before the send logs:

- ``dmarc``: an aggregate report as ``.xml``, ``.xml.gz`` or ``.zip`` (every member);
- ``tlsrpt``: an SMTP TLS report as ``.json`` (or ``.json.gz``);
- ``report-mail``: a mail (``.eml``, a Maildir message) or an mbox of them carrying DMARC
  aggregate reports (every attachment), a failure report, or TLS reports.

A report is written once: its key (reporter + report id) is looked up first; the same
report again (another mail, archive or re-send) counts as a duplicate, and if its content
differs from what was loaded, the difference is recorded in quarantine. Parser warnings
(recovered XML, replaced bytes) are recorded there too, so nothing is lost silently.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from workbench.errors import InputError
from workbench.sources.dmarc.aggregate import POOL, RECORD_TABLE, AggregateReport, report_key
from workbench.sources.dmarc.aggregate_stream import FastRefused
from workbench.sources.dmarc.failure import Failure
from workbench.sources.dmarc.route import (
    Found,
    LazyAggregate,
    document_kind,
    reports_in_message,
    reports_in_payloads,
)
from workbench.sources.dmarc.tlsrpt import TlsReport
from workbench.sources.mailbox import iter_mbox, looks_like_message
from workbench.sources.reader import Reject, open_stream
from workbench.sources.sendlogs.base import ParseOptions

if TYPE_CHECKING:
    from workbench.sources.registry import Sink

#: words of a subject that mark a report mail (aggregate reports name "Report Domain:" and
#: "Report-ID:"; failure reports say DMARC; TLS reports carry their own headers)
SUBJECT_MARKERS = ("report domain:", "report-id:", "dmarc")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- sniffing ------------------------------------------------------------------------------

def sniff_aggregate(head: bytes, path: Path) -> bool:
    if not head.strip() and path.name.lower().endswith((".xml", ".xml.gz", ".xml.zip")):
        return True  # empty, or a compressed stream too broken to sniff: the loader says why
    if head.startswith(b"PK\x03\x04"):
        return _zip_holds(path, "aggregate")
    return document_kind(head) == "aggregate"


def sniff_tlsrpt(head: bytes, path: Path) -> bool:
    if head.startswith(b"PK\x03\x04"):
        return _zip_holds(path, "tlsrpt")
    return document_kind(head) == "tlsrpt" and (b'"organization-name"' in head or b'"report-id"' in head)


def _zip_holds(path: Path, kind: str) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            first = next((i for i in zf.infolist() if not i.is_dir()), None)
            if first is None:
                return False
            with zf.open(first) as member:
                head = member.read(4096)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError):
        return False
    return document_kind(head) == kind


def sniff_mail(head: bytes, path: Path) -> bool:
    """A report mail, judged by its own headers (not by what it quotes: nearly every mail
    carries ``dmarc=pass`` in an Authentication-Results header): a report subject, a TLS
    report header or report type, or an ARF part of type ``auth-failure``."""
    if not looks_like_message(head):
        return False
    if head.startswith(b"From "):
        head = head.split(b"\n", 1)[-1]
    block = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    headers = BytesHeaderParser().parsebytes(block + b"\n\n")
    subject = " ".join(str(headers.get("Subject", "")).split()).lower()
    ctype = str(headers.get("Content-Type", "")).lower()
    return (
        any(m in subject for m in SUBJECT_MARKERS)
        or "tls-report-domain" in {k.lower() for k in headers}
        or "report-type=tlsrpt" in ctype.replace(" ", "").replace('"', "")
        or re.search(rb"(?im)^feedback-type:\s*auth-failure", head) is not None
    )


# -- loading -------------------------------------------------------------------------------

def load_reports_file(path: Path, sink: Sink, options: ParseOptions) -> None:
    """Load an ``.xml``/``.gz``/``.zip``/``.json`` report file."""
    # a large file is hashed while it loads (its hash "" here): the pre-pass, which reads the
    # document anyway while the engine starts, hashes it, and a document that is the whole
    # file hands its hash to the sink (write_found); a compressed file's own hash is then
    # computed when the sink needs it
    with path.open("rb") as handle:
        write_found(sink, reports_in_payloads(handle, str(path), getattr(sink, "sha", None) or None), str(path))
    sink.progress(path.stat().st_size)


def load_mail_file(path: Path, sink: Sink, options: ParseOptions) -> None:
    """Load a mail file (``.eml``) or an mbox of report mails."""
    with open_stream(path) as stream:
        head = stream.read(5)
    if head == b"From " and _mbox_messages(path) > 1:
        found = itertools.chain.from_iterable(reports_in_message(m.data, m.position) for m in iter_mbox(path))
        write_found(sink, found, str(path))
    else:
        with open_stream(path) as stream:
            data = stream.read()
        write_found(sink, reports_in_message(data, str(path)), str(path))
    sink.progress(path.stat().st_size)


def _mbox_messages(path: Path) -> int:
    with open_stream(path) as stream:
        count = 0
        for line in stream:
            if line.startswith(b"From "):
                count += 1
                if count > 1:
                    return count
    return count


def write_found(sink: Sink, found: Iterable[Found], source_file: str) -> None:
    """Write every found report to the sink, once each; errors and warnings as rejects.

    Each item is written before the next is drawn (a payload is valid until then).

    Raises
    ------
    InputError
        The file held one document and it could not be read (the file failed as a whole).
    """
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    held: Found | None = None  # a first error, raised instead if it stays the only item
    count = 0
    for item in found:
        count += 1
        if item.whole_file and item.sha256:
            sink.offer_file_sha256(item.sha256)
        item.position = _relative(item.position, source_file)
        written: list[Reject] = []
        if item.error is None and item.report is not None:
            try:
                written = _write(sink, item, source_file, seen)
            except InputError as exc:  # e.g. a record without a count, found part-way through a stream
                item.error, item.report = exc, None
        if item.error is not None and count == 1:
            held = item
            continue
        if held is not None:
            sink.add_rejects(_error_rejects(held))
            held = None
        if item.error is not None:
            sink.add_rejects(_error_rejects(item))
            continue
        warnings = [*item.warnings, *getattr(item.report, "warnings", [])]
        sink.add_rejects([*written, *(Reject(item.position, w, "", "Warning") for w in warnings)])
    if held is not None and held.error is not None:
        raise held.error


def _error_rejects(item: Found) -> list[Reject]:
    exc = item.error
    assert exc is not None
    rejects = [Reject(item.position, w, "", "Warning") for w in item.warnings]
    where = f"{item.position}: {exc.position}" if exc.position else item.position
    return [*rejects, Reject(where, exc.reason, exc.excerpt or "", type(exc).__name__)]


def _relative(position: str, source_file: str) -> str:
    if position == source_file:
        return "document"
    return position.removeprefix(source_file).lstrip("!#/ ") or "document"


def _write(sink: Sink, item: Found, source_file: str, seen: dict[tuple[str, str], tuple[str, int]]) -> list[Reject]:
    report = item.report
    if isinstance(report, LazyAggregate):
        try:
            return _write_stream(sink, item, report, source_file, seen)
        except FastRefused:
            item.report = report.fallback()
            report = item.report
    if isinstance(report, AggregateReport):
        table, size, label = "dmarc_reports", len(report.records), f"aggregate report {report.meta['report_id']!r} from {report.meta['org_name']!r}"
    elif isinstance(report, TlsReport):
        table, size, label = "tlsrpt_reports", len(report.failures) + len(report.policies), f"TLS report {report.meta['report_id']!r} from {report.meta['org_name']!r}"
    else:
        assert isinstance(report, Failure)
        table, size, label = "dmarc_failures", 1, f"failure report from {report.fields['reporter']!r}"
    warnings = len(item.warnings) + len(getattr(report, "warnings", []))
    _content_sha(sink, item)
    verdict, rejects = _decide(sink, item, table, report.key, warnings, label, seen)
    if verdict == "duplicate":
        sink.count_duplicates(size + 1)
        return rejects
    common = _common(item, source_file)
    if isinstance(report, AggregateReport):
        _write_aggregate(sink, report, {**common, "warnings": warnings})
    elif isinstance(report, TlsReport):
        sink.add_row("tlsrpt_reports", {"report_key": report.key, **report.meta, **common})
        key = pl.lit(report.key).alias("report_key")
        if len(report.policies):
            sink.add_rows("tlsrpt_policies", report.policies.with_columns(key))
        if len(report.failures):
            sink.add_rows("tlsrpt_failures", report.failures.with_columns(key))
    else:
        sink.add_rows("dmarc_failures", pl.DataFrame([{**report.fields, **common}], infer_schema_length=None))
    return rejects


def _content_sha(sink: Sink, item: Found) -> None:
    """A document that is the file itself, whose hash the loader computes while it loads
    (large files): its hash, waited for now that it is needed."""
    if not item.sha256:
        item.sha256 = sink.file_sha256()


def _common(item: Found, source_file: str) -> dict[str, Any]:
    return {"content_sha256": item.sha256, "source_file": source_file,
            "source_part": None if item.position == "document" else item.position, "loaded_at": _now()}


def _decide(sink: Sink, item: Found, table: str, key: str, warnings: int, label: str,
            seen: dict[tuple[str, str], tuple[str, int]]) -> tuple[str, list[Reject]]:
    """``"new"``, ``"replace"`` (the old copy was deleted) or ``"duplicate"``, with what to record."""
    key_column = "failure_key" if table == "dmarc_failures" else "report_key"
    known = seen.get((table, key))
    if known is None:
        extra = ", warnings" if table == "dmarc_reports" else ", 0"
        rows = sink.query(f"SELECT content_sha256{extra} FROM {table} WHERE {key_column} = $key", {"key": key})
        known = (str(rows.item(0, 0)), int(rows.item(0, 1))) if len(rows) else None
    seen_now = (item.sha256, warnings)
    if known is None:
        seen[(table, key)] = seen_now
        return "new", []
    sha, old_warnings = known
    if sha == item.sha256 or table == "dmarc_failures" or warnings >= old_warnings:
        rejects = []
        if sha != item.sha256 and table != "dmarc_failures":
            rejects.append(Reject(item.position, f"{label} was already loaded from other content (sha256 {sha[:12]}…, "
                                  f"this one {item.sha256[:12]}…); the first one is kept", "", "Duplicate"))
        return "duplicate", rejects
    # a cleaner copy of a report that was loaded from recovered input replaces it
    sink.query("DELETE FROM dmarc_records WHERE report_key = $key", {"key": key})
    sink.query("DELETE FROM dmarc_reports WHERE report_key = $key", {"key": key})
    seen[(table, key)] = seen_now
    return "replace", [Reject(item.position, f"{label} replaces the copy loaded earlier from recovered input "
                              f"(sha256 {sha[:12]}…, {old_warnings} warning(s); this one {warnings})", "", "Replaced")]


def _write_stream(sink: Sink, item: Found, lazy: LazyAggregate, source_file: str,
                  seen: dict[tuple[str, str], tuple[str, int]]) -> list[Reject]:
    """Write a large report batch by batch; on a refusal part-way, take back what was written."""
    stream = lazy.stream
    meta = stream.read_meta()
    key = report_key(meta["org_name"], meta["report_id"])
    label = f"aggregate report {meta['report_id']!r} from {meta['org_name']!r}"
    _content_sha(sink, item)
    verdict, rejects = _decide(sink, item, "dmarc_reports", key, len(item.warnings) + len(stream.warnings), label, seen)
    # one INSERT reads the whole report from a stream of record batches, each parsed (xml2arrow,
    # on its own thread) and shaped (Arrow compute) as DuckDB asks for it: two busy threads for
    # two cores, and one statement instead of one per batch (10k records: ~70 → ~62 ms in A/B
    # runs, against a thread inserting batch by batch beside the shaping)
    failed: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        # a failure part-way ends the stream (the INSERT keeps what it read, taken back below):
        # raised inside DuckDB's scan, it would abort the whole file's transaction
        try:
            for frame in stream:
                if verdict != "duplicate":
                    yield from frame.append_column("report_key", pa.repeat(key, frame.num_rows, memory_pool=POOL)).to_batches()
        except GeneratorExit:
            raise
        except BaseException as exc:
            failed.append(exc)

    try:
        with sink.single_threaded():
            if verdict == "duplicate":
                for _ in batches():  # read to the end all the same: a refusal part-way still counts
                    pass
            else:
                sink.add_rows("dmarc_records", pa.RecordBatchReader.from_batches(RECORDS_WITH_KEY, batches()))
        if failed:
            if verdict != "duplicate":
                sink.query("DELETE FROM dmarc_records WHERE report_key = $key", {"key": key})
            raise failed[0]
    except BaseException:
        seen.pop(("dmarc_reports", key), None)
        raise
    if verdict == "duplicate":
        sink.count_duplicates(stream.records + 1)
        return rejects
    row = {"report_key": key, **meta, "record_count": stream.records, "message_count": stream.messages,
           **_common(item, source_file), "warnings": len(item.warnings) + len(stream.warnings)}
    _insert_report(sink, row)
    rejects += [Reject(item.position, w, "", "Warning") for w in stream.warnings]
    return rejects


#: a record batch as ``dmarc_records`` takes it
RECORDS_WITH_KEY = RECORD_TABLE.append(pa.field("report_key", pa.string()))


def _insert_report(sink: Sink, row: dict[str, Any]) -> None:
    sink.add_row("dmarc_reports", row)


def _write_aggregate(sink: Sink, report: AggregateReport, common: dict[str, Any]) -> None:
    _insert_report(sink, {"report_key": report.key, **report.meta, "record_count": len(report.records),
                          "message_count": report.messages, **common})
    if len(report.records):
        sink.add_rows("dmarc_records", report.records.with_columns(pl.lit(report.key).alias("report_key")))
