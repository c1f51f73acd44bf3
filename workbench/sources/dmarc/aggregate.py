"""DMARC aggregate reports (RFC 7489, RFC 9990 DMARCbis, the pre-RFC draft): XML in, frames out.

Pure: :func:`parse_aggregate` takes the XML document's bytes and returns an
:class:`AggregateReport` (metadata and published policy as a dict, one row per ``<record>``
as a polars frame with its DKIM and SPF results as lists of structs). It never opens a file.

Two engines give the same result. The fast one (xml2arrow, a Rust streaming parser mapped
by ``aggregate.yaml``) reads the usual shape of report at a few hundred thousand records a
second. Anything unusual — not well-formed XML, a namespace prefix or a wrapper element,
repeated ``<reason>`` or ``<error>`` elements, ``<extensions>`` — goes to the lxml engine
(:mod:`.aggregate_tree`), which recovers what it can and says what it recovered in
``warnings``. Neither expands entities: :func:`.xmlsafe.prepare_xml` refuses DTDs first.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any

import polars as pl

from workbench.errors import ParseError
from workbench.sources.dmarc import aggregate_tree
from workbench.sources.dmarc.xmlsafe import check_prolog, is_utf8, prepare_xml

__all__ = ["AggregateReport", "parse_aggregate", "report_key"]

META = ["org_name", "org_email", "extra_contact_info", "report_id", "begin", "end", "error", "generator", "version",
        "policy_domain", "adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing", "t", "psd", "discovery_method"]
RECORD = ["source_ip", "count", "disposition", "policy_dkim", "policy_spf", "reason_type", "reason_comment",
          "header_from", "envelope_from", "envelope_to"]
#: the columns of a record row (``<item>``: its place among <feedback>'s children)
RECORD_COLUMNS = ["<item>", *RECORD]
AUTH = ["dkim_domain", "dkim_selector", "dkim_result", "dkim_human_result",
        "spf_domain", "spf_scope", "spf_result", "spf_human_result"]
DKIM_STRUCT = pl.Struct({"domain": pl.Utf8, "selector": pl.Utf8, "result": pl.Utf8, "human_result": pl.Utf8})
SPF_STRUCT = pl.Struct({"domain": pl.Utf8, "scope": pl.Utf8, "result": pl.Utf8, "human_result": pl.Utf8})
NS_V2 = b"urn:ietf:params:xml:ns:dmarc-2.0"
#: documents up to this size are parsed from memory; larger ones from their stream
IN_MEMORY = 32 << 20
#: fields whose values are keywords: compared lower-case ("Pass" is "pass")
KEYWORDS = ["disposition", "policy_dkim", "policy_spf", "header_from", "envelope_from", "envelope_to"]


@dataclass
class AggregateReport:
    """One aggregate report: its metadata, policy and records."""

    meta: dict[str, Any]
    records: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    engine: str = "xml2arrow"

    @property
    def key(self) -> str:
        return report_key(self.meta["org_name"], self.meta["report_id"])

    @property
    def messages(self) -> int:
        return int(self.records["count"].sum() or 0)


def report_key(org: str, report_id: str) -> str:
    """The identity of a report: md5 of the lower-cased reporter and its report id."""
    return hashlib.md5(f"{org.strip().lower()}\x1f{report_id.strip()}".encode()).hexdigest()


@cache
def _fast_parser(trimmed: bool = False) -> Any:
    """The fast engine; ``trimmed``: it strips each value itself, which is right only for
    documents without entity references, CDATA or comments (a value's text pieces would be
    stripped one by one: "A &amp; B" would read "A&B") — see :func:`.route.prepass`."""
    import xml2arrow

    path = resources.files("workbench.sources.dmarc").joinpath("aggregate.yaml")
    if not trimmed:
        with resources.as_file(path) as real:
            return xml2arrow.XmlToArrowParser(str(real))
    text = path.read_text(encoding="utf-8").replace("trim_text: false", "trim_text: true", 1)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "aggregate-trimmed.yaml"
        config.write_text(text, encoding="utf-8")
        return xml2arrow.XmlToArrowParser(str(config))


def parse_aggregate(data: bytes | IO[bytes], source: str = "<bytes>") -> AggregateReport:
    """Parse an aggregate report's XML.

    Parameters
    ----------
    data:
        The XML document (already decompressed), as bytes or a seekable binary stream; a
        large, clean stream is parsed without being read into memory.
    source:
        Where it came from, for messages.

    Raises
    ------
    UnsafeInput
        The document declares a DTD or entities.
    ParseError
        It is not an aggregate report, or lacks what identifies one (reporter, report id),
        or a record has no valid message count.
    """
    if not isinstance(data, bytes):
        size = data.seek(0, io.SEEK_END)
        data.seek(0)
        if size > IN_MEMORY:
            big = _parse_stream(data, source)
            if big is not None:
                return big
        data.seek(0)
        data = data.read()
    data, warnings = prepare_xml(data, source)
    items: pl.DataFrame | None = None
    auth: pl.DataFrame | None = None
    engine = "xml2arrow"
    if b"<extension" not in data:
        try:
            batches = _fast_parser().parse(data)
            items, auth = _frame(batches["items"]), _frame(batches["auth"])
        except Exception:  # any refusal of the fast engine goes to the tree engine
            items = None
    if items is not None and (items.is_empty() or items["report_id"].null_count() == len(items)):
        items = None
    extensions: dict[int, str] = {}
    if items is None:
        engine = "lxml"
        tree = aggregate_tree.parse(data, source)
        warnings.extend(tree.warnings)
        items, auth, extensions = tree.items, tree.auth, tree.extensions
    assert isinstance(items, pl.DataFrame) and isinstance(auth, pl.DataFrame)
    meta = _meta(items, data, source, warnings)
    records = _records(items, auth, extensions, source)
    meta["extensions"] = extensions.get(-1)
    return AggregateReport(meta, records, warnings, engine)


def _frame(batch: Any) -> pl.DataFrame:
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _parse_stream(stream: IO[bytes], source: str) -> AggregateReport | None:
    """A large, clean UTF-8 document straight from its stream; ``None`` when it needs the
    in-memory path (another encoding, invalid UTF-8, or a shape the fast engine refuses)."""
    head = stream.read(65536)
    if check_prolog(head, source) not in ("utf-8", "utf8", "us-ascii", "ascii") or not is_utf8(stream):
        return None
    try:
        batches = _fast_parser().parse(stream)
    except Exception:
        return None
    items, auth = _frame(batches["items"]), _frame(batches["auth"])
    if items.is_empty() or items["report_id"].null_count() == len(items):
        return None
    warnings: list[str] = []
    meta = _meta(items, head, source, warnings)
    meta["extensions"] = None
    return AggregateReport(meta, _records(items, auth, {}, source), warnings)


def _first(items: pl.DataFrame, column: str) -> str | None:
    values = items[column].drop_nulls()
    values = values.filter(values.str.strip_chars() != "")
    return str(values[0]).strip() if len(values) else None


def _timestamp(value: str | None, what: str, warnings: list[str]) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(int(float(value)), UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            warnings.append(f"{what} {value!r} is not a time; left empty")
            return None


def _meta(items: pl.DataFrame, data: bytes, source: str, warnings: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {name: _first(items, name) for name in META}
    errors = [e.strip() for e in items["error"].drop_nulls().to_list() if e.strip()]
    meta["errors"] = [str(e) for e in errors] or None
    if meta["report_id"] is None:
        raise ParseError(source, "report_metadata", "no <report_id>: not a DMARC aggregate report, or a truncated one")
    if meta["org_name"] is None:
        email = meta["org_email"] or ""
        if "@" not in email:
            raise ParseError(source, "report_metadata", "neither <org_name> nor a reporter <email>: cannot tell who sent it")
        meta["org_name"] = email.rsplit("@", 1)[1].strip(" >").lower()
        warnings.append(f"empty <org_name>: reporter taken from the <email> domain ({meta['org_name']})")
    meta["begin_ts"] = _timestamp(meta.pop("begin"), "date_range begin", warnings)
    meta["end_ts"] = _timestamp(meta.pop("end"), "date_range end", warnings)
    meta["testing"] = meta["testing"] or meta.pop("t")
    meta.pop("t", None)
    meta.pop("error")
    for key in ("adkim", "aspf", "p", "sp", "np", "fo", "testing", "psd", "discovery_method"):
        if meta[key] is not None:
            meta[key] = meta[key].lower()
    pct = meta["pct"]
    try:
        meta["pct"] = int(pct) if pct is not None else None
    except ValueError:
        warnings.append(f"<pct> {pct!r} is not a number; left empty")
        meta["pct"] = None
    head = data[:4096]
    version = meta["version"] or ""
    v2 = any(meta[k] for k in ("testing", "discovery_method", "generator", "psd"))
    meta["schema"] = "rfc9990" if NS_V2 in head or version.startswith("2") or v2 else "rfc7489"
    return meta


def _clean(column: str, *, lower: bool = False) -> pl.Expr:
    """A value stripped, empty as null, keywords lower-case."""
    text = pl.col(column).str.strip_chars()
    text = text.str.to_lowercase() if lower else text
    return pl.when(text == "").then(None).otherwise(text).alias(column)


def _clean_trimmed(column: str, *, lower: bool = False) -> pl.Expr:
    """:func:`_clean` of a value the engine has stripped (and nulled when empty) already."""
    return (pl.col(column).str.to_lowercase() if lower else pl.col(column)).alias(column)


Clean = Callable[..., pl.Expr]


#: result fields compared lower-case
LOWER_AUTH = ("dkim_result", "spf_result", "spf_scope", "dkim_domain", "spf_domain")


def _results(auth: pl.DataFrame, columns: list[str], name: str, fields: tuple[str, ...], clean: Clean) -> pl.DataFrame:
    """One list of result structs per record (``item``), in document order, from the rows of
    ``auth`` that carry any of ``columns``."""
    rows = auth.select("<item>", *columns).filter(pl.any_horizontal(pl.col(c).is_not_null() for c in columns))
    rows = rows.select(pl.col("<item>").cast(pl.Int64).alias("item"), *(clean(c, lower=c in LOWER_AUTH) for c in columns))
    return rows.group_by("item", maintain_order=True).agg(pl.struct(*(pl.col(c).alias(f) for f, c in zip(fields, columns, strict=True))).alias(name))


def _records(items: pl.DataFrame, auth: pl.DataFrame, extensions: dict[int, str], source: str, first_no: int = 0,
             *, trimmed: bool = False) -> pl.DataFrame:
    """The records of ``items`` (rows of <feedback>'s children) with their results from ``auth``
    (``trimmed``: read by the trimming engine)."""
    clean = _clean_trimmed if trimmed else _clean
    is_record = pl.any_horizontal(pl.col(c).is_not_null() for c in ("source_ip", "count", "header_from", "disposition"))
    plain = [c for c in RECORD if c not in ("reason_type", "reason_comment", "count")]
    if items.schema["reason_type"] == pl.Utf8:
        reasons = [
            pl.when(clean("reason_type").is_not_null()).then(pl.concat_list(clean("reason_type", lower=True)))
            .otherwise(pl.lit(None, pl.List(pl.Utf8))).alias("reason_types"),
            pl.when(clean("reason_comment").is_not_null()).then(pl.concat_list(clean("reason_comment")))
            .otherwise(pl.lit(None, pl.List(pl.Utf8))).alias("reason_comments"),
        ]
    else:  # the tree engine gives lists already
        types = pl.col("reason_type").list.eval(pl.element().str.strip_chars().str.to_lowercase())
        comments = pl.col("reason_comment").list.eval(pl.element().str.strip_chars())
        reasons = [pl.when(types.list.len() > 0).then(types).alias("reason_types"),
                   pl.when(comments.list.len() > 0).then(comments).alias("reason_comments")]
    # eager stages: measured faster here than one lazy plan (whose optimiser re-plans each batch);
    # columns are taken before rows are filtered, and DKIM and SPF results are cleaned apart
    # (a result row carries one of them): a third less time than cleaning all at once
    recs = items.select(RECORD_COLUMNS).filter(is_record).select(
        pl.col("<item>").cast(pl.Int64).alias("item"), clean("count").alias("count_text"),
        clean("count").cast(pl.Int64, strict=False).alias("count"),
        *(clean(c, lower=c in KEYWORDS) for c in plain), *reasons,
    )
    dkim = _results(auth, AUTH[:4], "dkim", ("domain", "selector", "result", "human_result"), clean)
    spf = _results(auth, AUTH[4:], "spf", ("domain", "scope", "result", "human_result"), clean)
    out = recs.join(dkim, on="item", how="left", maintain_order="left").join(spf, on="item", how="left", maintain_order="left")
    if extensions:
        ext = pl.DataFrame({"item": list(extensions), "extensions": list(extensions.values())}, schema={"item": pl.Int64, "extensions": pl.Utf8})
        out = out.join(ext, on="item", how="left", maintain_order="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Utf8).alias("extensions"))
    bad = out.filter(pl.col("count").is_null() | (pl.col("count") < 0))
    if len(bad):
        first = bad.row(0, named=True)
        raise ParseError(source, f"record {first['item']}", f"record without a valid <count> ({first['count_text']!r}); "
                         "the report is refused whole rather than loaded in part", str(first)[:200])
    return out.with_row_index("record_no", offset=first_no).select(
        pl.col("record_no").cast(pl.Int32), "source_ip", "count", "disposition", "policy_dkim", "policy_spf",
        "reason_types", "reason_comments", "header_from", "envelope_from", "envelope_to",
        pl.col("dkim").cast(pl.List(DKIM_STRUCT)), pl.col("spf").cast(pl.List(SPF_STRUCT)), "extensions",
    )
