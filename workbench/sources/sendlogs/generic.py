"""Generic event files: CSV, JSON lines or Parquet, in the canonical columns or mapped to them.

A file whose columns already carry the canonical names (``ts``, ``event_type``,
``recipient``, ...: what ``workbench`` itself exports and what the tracking spool writes)
loads as is. Any other file loads with a column mapping, canonical name -> the file's
column, e.g. ``{"ts": "timestamp", "event_type": "status", "recipient": "email"}``, and
optionally an ``event_map`` from the file's values to canonical event types
(``{"sent": "injected", "open": "opened"}``). An ``event_id`` column, when mapped or
present, identifies each record; otherwise the record's text does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from workbench.sources.csvchunks import CsvChunks
from workbench.sources.events import EVENT_TYPES, PARSED_COLUMNS
from workbench.sources.jsonengine import JsonEngine, rejects_from, structure
from workbench.sources.reader import LineChunk, Reject
from workbench.sources.sendlogs.base import Parsed, ParseOptions, epoch_or_iso, reject_rows

NAME = "generic"
DESCRIPTION = "CSV / JSON lines / Parquet in the canonical columns, or with a column mapping"

CANONICAL = [c for c in PARSED_COLUMNS if c != "key"]
_TRUE = ["true", "t", "1", "yes", "y"]


def sniff(head: str) -> bool:
    """True for canonical CSV (a header with ``ts`` and ``event_type``) or canonical JSON lines."""
    stripped = head.lstrip()
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0]
        return bool(re.search(r'"ts"\s*:', first) and re.search(r'"event_type"\s*:', first))
    names = [n.strip('" \r').lower() for n in stripped.split("\n", 1)[0].split(",")]
    return "ts" in names and "event_type" in names


class Parser:
    """Canonical or mapped event records, from line chunks (CSV / JSON lines) or frames."""

    def __init__(self, options: ParseOptions | None = None) -> None:
        self.options = options or ParseOptions()
        self.mapping: dict[str, str] = dict(self.options.mapping or {})
        self.event_map = {k.lower(): v for k, v in (self.options.event_map or {}).items()}
        self.csv = CsvChunks()
        self.kind: str | None = None
        self.engine: JsonEngine | None = None

    # -- inputs -----------------------------------------------------------------------

    def feed(self, chunk: LineChunk) -> Parsed:
        if chunk.lines.is_empty():
            return Parsed()
        if self.kind is None:
            self.kind = "jsonl" if chunk.lines["line"][0].lstrip().startswith("{") else "csv"
        if self.kind == "csv":
            frame, rejects = self.csv.read(chunk)
            if frame.is_empty():
                return Parsed(rejects=rejects)
            return self._events(frame, rejects)
        return self._jsonl(chunk.lines)

    def feed_frame(self, frame: pl.DataFrame, first_row: int) -> Parsed:
        """Records from a columnar batch (Parquet); ``first_row`` numbers them from 1."""
        numbers = pl.int_range(first_row, first_row + len(frame), eager=True, dtype=pl.Int64)
        return self._events(frame.with_columns(_line_no=numbers), [], unit="row")

    def finish(self) -> Parsed:
        return Parsed()

    # -- mapping ----------------------------------------------------------------------

    def _source_of(self, name: str, columns: list[str]) -> str | None:
        if name in self.mapping:
            return self.mapping[name] if self.mapping[name] in columns else None
        return name if name in columns else None

    def _jsonl(self, lines: pl.DataFrame) -> Parsed:
        if self.engine is None:
            self.engine = JsonEngine()
        wanted = {**{c: c for c in [*CANONICAL, "event_id"]}, **self.mapping}
        paths = {src for src in wanted.values()}
        spec = {p: "VARCHAR" for p in paths if "." not in p}
        dotted = [p for p in paths if "." in p]
        extra = "".join(
            f", json_extract_string(line, '$.{p}') AS \"{p}\"" for p in dotted if re.fullmatch(r"[\w.]+", p)
        )
        sql = (
            f"SELECT line_no AS _line_no, line AS _line, j.*{extra} FROM ("
            f"SELECT line_no, line, try(json_transform(line, {structure(spec)})) AS j FROM chunk)"
        )
        rows = self.engine.run(sql, chunk=lines)
        rows = rows.unnest("j") if "j" in rows.columns else rows
        broken = rows.filter(pl.all_horizontal(pl.col(c).is_null() for c in spec))
        rejects = rejects_from(broken.select(line_no="_line_no", line="_line"), "not a JSON object")
        rows = rows.filter(~pl.all_horizontal(pl.col(c).is_null() for c in spec))
        return self._events(rows, rejects)

    def _events(self, frame: pl.DataFrame, rejects: list[Reject], unit: str = "line") -> Parsed:
        columns = frame.columns
        missing = [c for c in ("ts", "event_type") if self._source_of(c, columns) is None]
        if missing:
            from workbench.errors import ParseError

            raise ParseError(
                self.options.source,
                None,
                f"no column for {', '.join(missing)}; pass a mapping "
                f"(e.g. --map ts=timestamp --map event_type=event); the file has: {', '.join(columns[:30])}",
            )
        selected = []
        for name in [*CANONICAL, "event_id"]:
            src = self._source_of(name, columns)
            if src is not None:
                selected.append(pl.col(src).alias(name))
        out = frame.select(pl.col("_line_no"), *selected, *([pl.col("_line")] if "_line" in columns else []))
        event = pl.col("event_type").cast(pl.Utf8).str.strip_chars().str.to_lowercase()
        if self.event_map:
            event = event.replace(self.event_map)
        ts = pl.col("ts")
        if out.schema["ts"] == pl.Utf8:
            ts = ts.str.to_datetime(self.options.ts_format, strict=False, time_unit="us") if self.options.ts_format else epoch_or_iso(ts)
        elif isinstance(out.schema["ts"], pl.Datetime):
            zone = out.schema["ts"].time_zone  # type: ignore[union-attr]
            ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if zone else ts
        else:
            ts = epoch_or_iso(ts.cast(pl.Utf8))
        out = out.with_columns(event_type=event, ts=ts.cast(pl.Datetime("us")))
        if "is_machine" in out.columns and out.schema["is_machine"] != pl.Boolean:
            out = out.with_columns(is_machine=pl.col("is_machine").cast(pl.Utf8).str.to_lowercase().is_in(_TRUE))
        if "smtp_code" in out.columns:
            out = out.with_columns(smtp_code=pl.col("smtp_code").cast(pl.Utf8).str.strip_chars().cast(pl.Float64, strict=False).cast(pl.Int16, strict=False))
        bad = out.filter(~pl.col("event_type").is_in(EVENT_TYPES) | pl.col("ts").is_null())
        if len(bad):
            line_col = pl.col("_line") if "_line" in out.columns else pl.concat_str(pl.all().exclude("_line_no").cast(pl.Utf8), separator=",", ignore_nulls=True)
            rejects = [*rejects, *[
                r.__class__(r.position.replace("line", unit), r.reason, r.excerpt)
                for r in reject_rows(bad.select(line_no="_line_no", line=line_col), "unknown event type or unreadable time stamp")
            ]]
        out = out.filter(pl.col("event_type").is_in(EVENT_TYPES) & pl.col("ts").is_not_null())
        if "event_id" in out.columns:
            key = pl.concat_str([pl.lit("id:"), pl.col("event_id").cast(pl.Utf8)])
        elif "_line" in out.columns:
            key = pl.col("_line")
        else:
            key = pl.concat_str([pl.col(c).cast(pl.Utf8) for c in out.columns if c != "_line_no"], separator="\x1f", ignore_nulls=False).fill_null(
                pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in out.columns if c != "_line_no"], separator="\x1f")
            )
        out = out.with_columns(key=key)
        return Parsed.of(out, rejects, clean=_is_clean(self.mapping))


def _is_clean(mapping: Mapping[str, str]) -> bool:
    """Canonical files carry bare lower-case addresses; mapped files get normalised."""
    return not mapping
