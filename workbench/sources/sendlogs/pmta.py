"""PowerMTA accounting files: CSV with a header line naming the fields of each record.

The first column is always the record ``type``: ``r`` (received: injected), ``d``
(delivered), ``t`` (transient failure: deferred), ``b`` (bounced), ``rb`` (remote bounce,
an asynchronous DSN), ``f`` (feedback loop complaint); ``tq`` and ``rs`` records are read
and ignored. Fields are taken by name, case-insensitively, whatever the configured
``record-fields``: ``timeLogged``, ``orig``, ``rcpt``, ``dsnStatus``, ``dsnDiag``, ``dsnMta``,
``bounceCat``, ``dlvSourceIp``, ``vmta``, ``vmtaPool``, ``jobId``, ``header_Message-Id``,
``header_X-Campaign-ID``, and for feedback records ``feedbackType``, ``userAgent``.
Times may be UNIX ``time_t`` or formatted (``2026-11-27 08:43:05+0000``).
"""

from __future__ import annotations

import re

import polars as pl

from workbench.sources.csvchunks import CsvChunks
from workbench.sources.reader import LineChunk
from workbench.sources.sendlogs.base import Parsed, ParseOptions, epoch_or_iso, reject_rows

NAME = "pmta"
DESCRIPTION = "PowerMTA accounting CSV (header-driven, any record-fields)"

_TYPES = {
    "r": "injected", "d": "delivered", "t": "deferred", "b": "bounced", "rb": "bounced", "f": "complained",
    "delivery": "delivered", "bounce": "bounced", "transient": "deferred", "receipt": "injected",
    "feedback-loop": "complained", "remote-bounce": "bounced",
}
_IGNORED = ("tq", "rs", "transient-queue", "remote-status")
# PowerMTA bounce categories -> (class, reason)
_CATEGORIES = {
    "bad-mailbox": ("hard", "userunknown"), "bad-domain": ("hard", "hostunknown"),
    "inactive-mailbox": ("hard", "suspend"), "quota-issues": ("soft", "mailboxfull"),
    "spam-related": ("block", "spamdetected"), "policy-related": ("block", "policyviolation"),
    "virus-related": ("block", "virusdetected"), "content-related": ("block", "contenterror"),
    "message-expired": ("soft", "expired"), "no-answer-from-host": ("soft", "networkerror"),
    "bad-connection": ("soft", "networkerror"), "routing-errors": ("soft", "systemerror"),
    "protocol-errors": ("soft", "systemerror"), "bad-configuration": ("soft", "systemerror"),
    "relaying-issues": ("block", "rejected"), "other": (None, None),
}


def sniff(head: str) -> bool:
    """True when the first line is a PowerMTA accounting header (``type,timeLogged,...``)."""
    first = head.split("\n", 1)[0].strip().lower()
    names = [n.strip('" ') for n in first.split(",")]
    return bool(names) and names[0] == "type" and "timelogged" in names and ("rcpt" in names or "orig" in names)


def _col(frame: pl.DataFrame, *names: str) -> pl.Expr:
    for name in names:
        if name in frame.columns:
            return pl.col(name).str.strip_chars().replace("", None)
    return pl.lit(None, dtype=pl.Utf8)


class Parser:
    """PowerMTA accounting records, chunk by chunk (the header comes with the first)."""

    def __init__(self, options: ParseOptions | None = None) -> None:
        self.options = options or ParseOptions()
        self.csv = CsvChunks(lower_names=True)

    def feed(self, chunk: LineChunk) -> Parsed:
        frame, rejects = self.csv.read(chunk)
        if frame.is_empty():
            return Parsed(rejects=rejects)
        f = frame
        rows = f.select(
            "_line_no",
            "_line",
            raw_type=_col(f, "type").str.to_lowercase(),
            ts=epoch_or_iso(_col(f, "timelogged")),
            sender=_col(f, "orig"),
            recipient=_col(f, "rcpt"),
            enhanced_status=_col(f, "dsnstatus").str.extract(r"^(\d\.\d{1,3}\.\d{1,3})"),
            diagnostic=_col(f, "dsndiag").str.replace(r"^smtp;\s*", ""),
            remote_mta=_col(f, "dsnmta").str.extract(r"^([^\s(]+)"),
            category=_col(f, "bouncecat").str.to_lowercase(),
            sending_ip=_col(f, "dlvsourceip"),
            mta_instance=_col(f, "vmta"),
            ip_pool=_col(f, "vmtapool"),
            campaign_id=pl.coalesce(_col(f, "header_x-campaign-id"), _col(f, "jobid"), _col(f, "header_x-job")),
            message_id=_col(f, "header_message-id").str.strip_chars("<> "),
            user_agent=_col(f, "useragent"),
            feedback_type=_col(f, "feedbacktype"),
        )
        rows = rows.filter(~pl.col("raw_type").is_in(_IGNORED))
        bad = rows.filter(~pl.col("raw_type").is_in(list(_TYPES)) | pl.col("ts").is_null())
        rejects += reject_rows(
            bad.select(line_no="_line_no", line="_line"),
            "not a PowerMTA accounting record (unknown type or unreadable timeLogged)",
        )
        rows = rows.filter(pl.col("raw_type").is_in(list(_TYPES)) & pl.col("ts").is_not_null())
        klass = pl.col("category").replace_strict({k: v[0] for k, v in _CATEGORIES.items()}, default=None)
        reason = pl.col("category").replace_strict({k: v[1] for k, v in _CATEGORIES.items()}, default=None)
        failed = pl.col("raw_type").is_in(["b", "rb", "t", "bounce", "transient", "remote-bounce"])
        events = rows.with_columns(
            event_type=pl.col("raw_type").replace_strict(_TYPES),
            bounce_class=pl.when(failed).then(klass),
            bounce_reason=pl.when(failed).then(reason),
            key=pl.col("_line"),
        )
        return Parsed.of(events, rejects)

    def finish(self) -> Parsed:
        return Parsed()


def header_pattern() -> re.Pattern[str]:
    """The header names a PowerMTA file must have (for documentation and tests)."""
    return re.compile(r"^type,.*timelogged", re.IGNORECASE)
