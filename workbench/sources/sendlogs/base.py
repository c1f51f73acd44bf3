"""What every send-log parser shares: options, results, and the parser protocols.

A parser is pure: it receives lines (or a whole document) already read and decoded by
:mod:`workbench.sources.reader`, and returns canonical event frames plus rejects. It never
opens a file, the store, the network or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import polars as pl

from workbench.sources.events import conform, empty_events
from workbench.sources.reader import LineChunk, Reject


@dataclass(frozen=True)
class ParseOptions:
    """What a parser may need beyond the bytes.

    Attributes
    ----------
    source:
        The file name, for messages.
    reference_time:
        When the file was last written (UTC); dates year-less syslog stamps.
    mapping:
        For generic files: canonical column -> column of the file.
    event_map:
        For generic files: value in the file -> canonical ``event_type``.
    ts_format:
        For generic files: a strftime format of the time column (default: ISO 8601 or epoch).
    campaign_headers:
        Header names that carry a campaign id in Postfix ``header_checks`` INFO lines.
    """

    source: str = "<bytes>"
    reference_time: datetime | None = None
    mapping: Mapping[str, str] | None = None
    event_map: Mapping[str, str] | None = None
    ts_format: str | None = None
    campaign_headers: tuple[str, ...] = ("x-campaign-id", "x-campaign", "x-job", "x-mailing-id")


@dataclass
class Parsed:
    """Canonical events and rejected records from one chunk or document."""

    events: pl.DataFrame = field(default_factory=empty_events)
    rejects: list[Reject] = field(default_factory=list)

    @classmethod
    def of(cls, frame: pl.DataFrame, rejects: list[Reject] | None = None, *, clean: bool = False) -> Parsed:
        return cls(conform(frame, clean=clean) if len(frame) else empty_events(), rejects or [])


class LineParser(Protocol):
    """Parses a stream of line chunks, keeping whatever state spans chunks."""

    def feed(self, chunk: LineChunk) -> Parsed:
        """Parse a chunk of whole lines."""
        ...

    def finish(self) -> Parsed:
        """Emit what the state still holds once the stream has ended."""
        ...


def reject_rows(rows: pl.DataFrame, reason: str) -> list[Reject]:
    """Rejects for the given ``line_no`` / ``line`` rows, all for one reason."""
    return [
        Reject(f"line {n}", reason, (line or "")[:200])
        for n, line in rows.select("line_no", "line").head(10_000).iter_rows()
    ]


def epoch_or_iso(col: pl.Expr) -> pl.Expr:
    """A UTC timestamp from text holding epoch seconds (possibly fractional) or ISO 8601."""
    text = col.cast(pl.Utf8).str.strip_chars()
    numeric = text.cast(pl.Float64, strict=False)
    iso = (
        text.str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T")
        .str.replace(r"([+-]\d\d)(\d\d)$", "${1}:${2}")
        .str.replace(r"Z$", "+00:00")
        .str.replace(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)$", "${1}+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
    from_epoch = (numeric * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us"))
    return pl.when(numeric.is_not_null()).then(from_epoch).otherwise(iso)
