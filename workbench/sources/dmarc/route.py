"""From containers to reports: which parser reads which payload, for files and for mail.

:func:`reports_in_payloads` takes documents out of ``.xml``/``.gz``/``.zip``/``.json`` bytes
(every zip member) and :func:`reports_in_message` out of a mail (every attachment, any
encoding, or the mail itself when it is a failure report). Each yields
:class:`Found` — a parsed report, or the :class:`~workbench.errors.InputError` that one
document raised, so that one bad attachment never hides the others.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from workbench.errors import InputError, ParseError
from workbench.sources.archive import Payload, kind_of, unpack
from workbench.sources.dmarc.aggregate import AggregateReport, parse_aggregate
from workbench.sources.dmarc.aggregate_stream import AggregateStream
from workbench.sources.dmarc.failure import Failure, is_failure_report, parse_failure
from workbench.sources.dmarc.tlsrpt import TlsReport, parse_tlsrpt
from workbench.sources.dmarc.xmlsafe import UTF8, check_prolog, has_extension, plain_text
from workbench.sources.mailbox import Part, iter_parts, parse_message

#: aggregate documents larger than this are read in streaming fashion
STREAM_FROM = 4 << 20


@dataclass
class LazyAggregate:
    """A large aggregate report to be read in batches (:class:`AggregateStream`), with the
    in-memory reading to fall back on when the fast engine refuses it."""

    stream: AggregateStream
    payload: Payload

    def fallback(self) -> AggregateReport:
        return parse_aggregate(self.payload.read(), self.payload.name)


Report = AggregateReport | TlsReport | Failure | LazyAggregate
REPORT_TYPES = ("zip", "gzip", "xml", "json", "tlsrpt", "octet-stream")
REPORT_SUFFIXES = (".xml", ".gz", ".zip", ".json", ".xml.gz", ".json.gz", ".gzip")


@dataclass
class Found:
    """A report found at ``position`` (with its payload hash), or the error that stopped it."""

    position: str
    report: Report | None = None
    error: InputError | None = None
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    #: the document is the file itself (not a member or attachment): its hash is the file's
    whole_file: bool = False


def document_kind(head: bytes) -> str | None:
    """``"aggregate"``, ``"tlsrpt"`` or ``None`` from a decompressed document's start."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<") and b"feedback" in head:
        return "aggregate"
    if text.startswith(b"{") and b'"policies"' in head:
        return "tlsrpt"
    return None


def prepass(stream: IO[bytes], known_sha: str | None = None) -> tuple[str, bool, bool]:
    """One read at C speed: the payload's SHA-256 (``known_sha`` when the caller hashed these
    bytes already, ``""`` when it hashes them itself and fills it in later); whether the fast
    engine may stream it (valid UTF-8, no ``<extension`` elements it would drop); and whether
    it may also strip values itself (no ``&``, which starts an entity or character reference,
    no ``!`` of CDATA or comments, no ``?`` after the prolog: nothing that splits a value's
    text)."""
    digest = hashlib.sha256() if known_sha is None else None
    decoder = codecs.getincrementaldecoder("utf-8")()
    clean, plain, tail, first = True, True, b"", True
    stream.seek(0)
    while block := stream.read(1 << 20):
        if digest is not None:
            digest.update(block)
        elif not clean:
            break
        if clean:
            if b"<extension" in tail + block[:16] or has_extension(block):
                clean = False
            elif not block.isascii():
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    clean = False
            tail = block[-16:]
        if plain:
            plain, first = plain_text(block, first=first), False
    stream.seek(0)
    return (digest.hexdigest() if digest is not None else str(known_sha)), clean, clean and plain


def _engine_source(stream: IO[bytes]) -> str | IO[bytes]:
    """A path when the payload is a plain file on disk (the engine reads it itself), else the stream."""
    name = getattr(stream, "name", None)
    if isinstance(stream, io.BufferedReader) and isinstance(name, str) and os.path.isfile(name):
        return name
    stream.seek(0)
    return stream


def parse_payload(payload: Payload, known_sha: str | None = None) -> Found:
    """Parse one decompressed document (aggregate XML or TLS-RPT JSON); ``known_sha`` is its
    SHA-256 when the caller has it."""
    stream = payload.stream
    stream.seek(0)
    head = stream.read(65536)
    stream.seek(0)
    kind = document_kind(head)
    found = Found(payload.name, warnings=list(payload.warnings))
    early: AggregateStream | None = None
    try:
        if not head.strip():
            raise ParseError(payload.name, "start", "empty file: no report in it")
        if kind is None:
            raise ParseError(payload.name, "start", "neither a DMARC aggregate report (XML <feedback>) nor an SMTP TLS report (JSON)",
                             head[:200].decode("utf-8", "backslashreplace"))
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        # large UTF-8 reports stream (a DTD is refused here, before any engine sees it)
        streams = kind == "aggregate" and size > STREAM_FROM and check_prolog(head, payload.name) in UTF8
        source = _engine_source(stream) if streams else None
        # a large report on disk: the engine starts reading it on its thread while the pre-pass
        # runs (7 of ~50 ms for 10k records), and is kept only if the pre-pass finds the
        # document fit for the trimming engine
        early = AggregateStream(source, payload.name, head[:4096], trimmed=True) if isinstance(source, str) else None
        found.sha256, clean, plain = prepass(stream, known_sha)
        if source is not None and clean:
            if early is not None and plain:
                found.report, early = LazyAggregate(early, payload), None
            else:
                found.report = LazyAggregate(AggregateStream(source, payload.name, head[:4096], trimmed=plain), payload)
        elif kind == "aggregate":
            found.report = parse_aggregate(stream, payload.name)
        else:
            found.report = parse_tlsrpt(stream.read(), payload.name)
    except InputError as exc:
        found.error = exc
    finally:
        if early is not None:
            early.close()  # not taken: its engine stops
    return found


def reports_in_payloads(data: bytes | IO[bytes], name: str, sha256: str | None = None) -> Iterator[Found]:
    """Every report in a file's content: itself, its gzip content, every zip member
    (``sha256``: of ``data``, when known, spares hashing an uncompressed document again; ``""``:
    the caller hashes ``data`` itself and fills the hash of a document that is ``data`` in)."""
    try:
        for payload in unpack(data, name):
            try:
                found = parse_payload(payload, sha256 if payload.stream is data else None)
                found.whole_file = payload.stream is data
                yield found
            finally:
                payload.close()
    except InputError as exc:
        yield Found(exc.source or name, error=exc)


def _is_report_part(part: Part) -> bool:
    subtype = part.content_type.split("/", 1)[-1]
    name = (part.filename or "").lower()
    if part.content_type.startswith(("text/plain", "text/html", "multipart/", "message/")) and not name.endswith(REPORT_SUFFIXES):
        return False
    return any(t in subtype for t in REPORT_TYPES) or name.endswith(REPORT_SUFFIXES) or kind_of(part.payload[:4]) is not None


def reports_in_message(data: bytes, position: str) -> Iterator[Found]:
    """Every report a mail carries: each report attachment (zip, gzip, xml, json, in any
    transfer encoding), or the failure report the mail itself is."""
    try:
        msg = parse_message(data)
        parts = list(iter_parts(msg))
    except InputError as exc:
        yield Found(position, error=exc)
        return
    if is_failure_report(msg, parts):
        try:
            failure = parse_failure(msg, position)
            yield Found(position, failure, sha256=hashlib.sha256(data).hexdigest(), warnings=failure.warnings)
        except InputError as exc:
            yield Found(position, error=exc)
        return
    candidates = [p for p in parts if _is_report_part(p)]
    if not candidates:
        subject = str(msg.get("Subject", ""))[:120]
        yield Found(position, error=ParseError(position, "message", "no DMARC or TLS report attached "
                                               f"(parts: {', '.join(p.content_type for p in parts)}; subject {subject!r})"))
        return
    for part in candidates:
        where = f"{position} part {part.index} ({part.filename or part.content_type})"
        yield from reports_in_payloads(part.payload, where)
