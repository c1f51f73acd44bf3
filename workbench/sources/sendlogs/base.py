"""What every send-log parser shares: options, results, time stamps in SQL.

A parser is pure: a DuckDB query over the lines (or CSV records) of a file, which the
loader binds to the file and tests bind to a frame (:mod:`workbench.sources.sqlparse`). It
never opens a file, the store, the network or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from workbench.sources.events import conform, empty_events
from workbench.sources.reader import Reject


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
    """Canonical events and rejected records from one batch or document."""

    events: pl.DataFrame = field(default_factory=empty_events)
    rejects: list[Reject] = field(default_factory=list)

    @classmethod
    def of(cls, frame: pl.DataFrame, rejects: list[Reject] | None = None, *, clean: bool = False) -> Parsed:
        return cls(conform(frame, clean=clean) if len(frame) else empty_events(), rejects or [])


def quote_ident(name: str) -> str:
    """A SQL identifier for any column name."""
    return '"' + name.replace('"', '""') + '"'


# strptime formats tried on a file's first time stamp; the one that fits is used for every
# row, and rows it does not fit fall back to the general parse (:func:`general_ts_sql`)
_FORMATS = [
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", "%Y-%m-%dT%H:%M:%S.%fZ", False),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "%Y-%m-%dT%H:%M:%SZ", False),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:?\d\d", "%Y-%m-%dT%H:%M:%S.%f%z", True),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:?\d\d", "%Y-%m-%dT%H:%M:%S%z", True),
    (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:?\d\d", "%Y-%m-%d %H:%M:%S%z", True),
    (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "%Y-%m-%d %H:%M:%S", False),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "%Y-%m-%dT%H:%M:%S", False),
]


def general_ts_sql(col: str) -> str:
    """SQL: a UTC timestamp from text holding epoch seconds (possibly fractional) or ISO 8601
    (``T`` or space, optional fraction, ``Z`` / ``+hh:mm`` / ``+hhmm`` / no zone: UTC)."""
    t = f"trim({col})"
    return (
        f"CASE WHEN TRY_CAST({t} AS DOUBLE) IS NOT NULL "
        f"THEN make_timestamp(TRY_CAST(TRY_CAST({t} AS DOUBLE) * 1000000 AS BIGINT)) "
        f"WHEN regexp_matches({t}, '(Z|[+-]\\d\\d:?\\d\\d)$') "
        f"THEN make_timestamp(epoch_us(TRY_CAST({t} AS TIMESTAMPTZ))) "
        f"ELSE TRY_CAST({t} AS TIMESTAMP) END"
    )


def ts_sql(col: str, sample: str | None) -> str:
    """SQL: the timestamp in ``col``, parsed with the one format that fits ``sample`` (the
    file's first value) and, for rows it does not fit, with :func:`general_ts_sql`."""
    general = general_ts_sql(col)
    sample = (sample or "").strip()
    if re.fullmatch(r"\d{9,10}(\.\d+)?", sample):
        return f"coalesce(make_timestamp(TRY_CAST(TRY_CAST({col} AS DOUBLE) * 1000000 AS BIGINT)), {general})"
    for pattern, fmt, zoned in _FORMATS:
        if re.fullmatch(pattern, sample):
            fast = f"try_strptime({col}, '{fmt}')"
            fast = f"make_timestamp(epoch_us({fast}))" if zoned else fast
            return f"coalesce({fast}, {general})"
    return general


def reject_rows(rows: pl.DataFrame, reason: str) -> list[Reject]:
    """Rejects for the given ``line_no`` / ``line`` rows, all for one reason."""
    return [
        Reject(f"line {n}", reason, (line or "")[:200])
        for n, line in rows.select("line_no", "line").head(10_000).iter_rows()
    ]
