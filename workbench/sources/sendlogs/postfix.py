"""Postfix ``maillog``: delivery status lines joined to their message by queue id.

Reads the lines Postfix's daemons write through syslog, in the traditional
(``Nov 27 08:43:05 host postfix/smtp[123]: ...``) or the RFC 3339 stamp
(``2026-11-27T08:43:05.123456+00:00 host ...``):

- ``cleanup``: ``QUEUEID: message-id=<...>``
- ``cleanup``: ``QUEUEID: info: header X-Campaign-ID: c12 from ...`` (``header_checks`` INFO)
- ``qmgr``: ``QUEUEID: from=<sender>, size=N, nrcpt=N (queue active)``
- ``smtp`` / ``lmtp`` / ``local`` / ``virtual`` / ``error``:
  ``QUEUEID: to=<rcpt>, relay=host[ip]:port, delay=…, dsn=X.Y.Z, status=sent|deferred|bounced (reply)``
- ``qmgr``: ``QUEUEID: from=<sender>, status=expired, returned to sender``
- ``qmgr``: ``QUEUEID: removed``

Each status line becomes a delivered / deferred / bounced event; the first attempt of a
recipient also yields an ``injected`` event at the time ``cleanup`` enqueued the message
(logged once per message, unlike ``qmgr``'s line, which repeats at every retry); a message
enqueued before the file began was injected in an earlier file. The multi-instance syslog name (``postfix-news1/smtp``) is kept as ``mta_instance`` so
that the store can map it to the sending IP. Other lines are ignored; a line that looks
like a status line but cannot be read is rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from workbench.sources.reader import LineChunk
from workbench.sources.sendlogs.base import Parsed, ParseOptions, reject_rows

NAME = "postfix"
DESCRIPTION = "Postfix maillog (syslog), delivery status lines joined by queue id"

_STATE_CAP = 2_000_000

_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}


def sniff(head: str) -> bool:
    """True when a few of the first lines are Postfix syslog lines."""
    lines = [ln for ln in head.splitlines()[:50] if ln.strip()]
    hits = sum(1 for ln in lines if "postfix" in ln and ("]: " in ln) and (": to=<" in ln or ": from=<" in ln or ": message-id=" in ln or ": removed" in ln or ": client=" in ln or "connect from" in ln))
    return bool(lines) and hits >= max(1, len(lines) // 4)


def _split(chunk: pl.DataFrame, reference: datetime) -> pl.DataFrame:
    """Time stamp, host, program, queue id and message of each line (columnar splits, no
    backtracking regex). The stamp style is taken from the chunk's first line."""
    line = pl.col("line")
    first = chunk["line"][0] if len(chunk) else ""
    if first[:1].isdigit():  # RFC 3339: 2026-11-27T08:43:05.123456+00:00 host prog[pid]: QID: msg
        parts = line.str.splitn(" ", 5)
        stamp = parts.struct.field("field_0").str.replace(r"Z$", "+00:00")
        ts = (
            stamp.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
            .dt.convert_time_zone("UTC")
            .dt.replace_time_zone(None)
        )
        fields = [parts.struct.field(f"field_{i}") for i in range(1, 5)]
    else:  # traditional: Nov 27 08:43:05 host prog[pid]: QID: msg (no year: the reference's)
        parts = line.str.slice(16).str.splitn(" ", 4)
        trad = pl.concat_str([pl.lit(f"{reference.year} "), line.str.slice(0, 15)]).str.to_datetime(
            "%Y %b %e %H:%M:%S", strict=False, time_unit="us"
        )
        limit = reference.replace(tzinfo=None)
        ts = pl.when(trad > pl.lit(limit) + pl.duration(days=2)).then(trad.dt.offset_by("-1y")).otherwise(trad)
        fields = [parts.struct.field(f"field_{i}") for i in range(4)]
    host, prog, qid, msg = fields
    return chunk.with_columns(
        ts=ts,
        host=host,
        prog=prog.str.splitn("[", 2).struct.field("field_0").str.strip_suffix(":"),
        qid=pl.when(qid.str.contains(r"^[0-9A-Za-z]{5,}:$")).then(qid.str.strip_suffix(":")),
        msg=msg,
    )


class Parser:
    """Stateful Postfix parser: message facts seen in earlier chunks are carried over."""

    def __init__(self, options: ParseOptions | None = None) -> None:
        self.options = options or ParseOptions()
        self.reference = self.options.reference_time or datetime.now(UTC)
        # qid-level facts: message_id, sender, campaign_id, queued (first 'queue active')
        self.messages = pl.DataFrame(
            schema={"host": pl.Utf8, "qid": pl.Utf8, "message_id": pl.Utf8, "sender": pl.Utf8, "campaign_id": pl.Utf8, "queued": pl.Datetime("us")}
        )
        # recipients already injected (first attempt seen) and last deferral per recipient
        self.attempted = pl.DataFrame(
            schema={"host": pl.Utf8, "qid": pl.Utf8, "recipient": pl.Utf8, "diagnostic": pl.Utf8, "enhanced_status": pl.Utf8, "remote_mta": pl.Utf8, "mta_instance": pl.Utf8, "status": pl.Utf8}
        )

    def feed(self, lines: LineChunk) -> Parsed:
        chunk = lines.lines
        line = pl.col("line")
        relevant = chunk.filter(
            line.str.contains(", status=", literal=True)
            | line.str.contains(": message-id=", literal=True)
            | line.str.contains(", nrcpt=", literal=True)
            | line.str.contains(": removed", literal=True)
            | line.str.contains(": header ", literal=True)
        )
        if relevant.is_empty():
            return Parsed()
        head = _split(relevant, self.reference)
        bad = head.filter(pl.col("ts").is_null() | pl.col("qid").is_null())
        rejects = reject_rows(
            bad.filter(line.str.contains(", status=", literal=True)),
            "a Postfix status line without a readable time stamp, program or queue id",
        )
        head = head.filter(pl.col("ts").is_not_null() & pl.col("qid").is_not_null())
        msg = pl.col("msg")
        self._learn_messages(head)
        status = head.filter(msg.str.starts_with("to=<") & msg.str.contains(", status=", literal=True))
        expired = head.filter(msg.str.starts_with("from=<") & msg.str.contains(", status=expired", literal=True))
        events = self._status_events(status)
        events = pl.concat([events, self._expired_events(expired)], how="diagonal_relaxed") if len(expired) else events
        self._forget(head.filter(msg == "removed"))
        return Parsed.of(events, rejects)

    def finish(self) -> Parsed:
        return Parsed()

    # -- state ------------------------------------------------------------------------

    def _learn_messages(self, head: pl.DataFrame) -> None:
        msg = pl.col("msg")
        mids = head.filter(msg.str.starts_with("message-id=")).select(
            "host", "qid", message_id=msg.str.extract(r"^message-id=<?([^>\s]*)>?"), queued=pl.col("ts")
        )
        froms = head.filter(msg.str.starts_with("from=<") & msg.str.contains(", nrcpt=", literal=True)).select(
            "host", "qid", sender=msg.str.extract(r"^from=<([^>]*)>")
        )
        names = "|".join(h.replace("-", r"\-") for h in self.options.campaign_headers)
        camps = head.filter(msg.str.starts_with("info: header ") | msg.str.starts_with("warning: header ")).select(
            "host", "qid", campaign_id=msg.str.extract(rf"(?i)^(?:info|warning): header (?:{names}): ([^\s;]+)")
        ).filter(pl.col("campaign_id").is_not_null())
        if not (len(mids) or len(froms) or len(camps)):
            return
        new = pl.concat([mids, froms, camps], how="diagonal_relaxed")
        merged = pl.concat([self.messages, new], how="diagonal_relaxed")
        self.messages = merged.group_by("host", "qid", maintain_order=True).agg(
            pl.col("message_id").drop_nulls().first(),
            pl.col("sender").drop_nulls().first(),
            pl.col("campaign_id").drop_nulls().first(),
            pl.col("queued").drop_nulls().min(),
        ).select(self.messages.columns)
        if len(self.messages) > _STATE_CAP:
            self.messages = self.messages.tail(_STATE_CAP // 2)

    def _forget(self, removed: pl.DataFrame) -> None:
        if removed.is_empty():
            return
        done = removed.select("host", "qid").unique()
        self.messages = self.messages.join(done, on=["host", "qid"], how="anti")
        self.attempted = self.attempted.join(done, on=["host", "qid"], how="anti")
        if len(self.attempted) > _STATE_CAP:
            self.attempted = self.attempted.tail(_STATE_CAP // 2)

    # -- events -----------------------------------------------------------------------

    def _status_events(self, status: pl.DataFrame) -> pl.DataFrame:
        if status.is_empty():
            return pl.DataFrame()
        msg = pl.col("msg")
        tail = msg.str.slice(msg.str.find(", status=", literal=True) + 9)  # "sent (250 ...)"
        s = status.select(
            "ts",
            "host",
            "qid",
            "line",
            mta_instance=pl.col("prog").str.replace(r"/[^/]+$", ""),
            recipient=msg.str.extract(r"^to=<([^>]*)>"),
            remote_mta=msg.str.extract(r", relay=([^,\s\[]+)"),
            enhanced_status=msg.str.extract(r", dsn=(\d\.\d{1,3}\.\d{1,3})"),
            status=tail.str.extract(r"^([a-z]+)"),
            diagnostic=tail.str.extract(r"^[a-z]+ \((.*)\)\s*$"),
        )
        s = s.with_columns(
            event_type=pl.col("status").replace_strict(
                {"sent": "delivered", "deferred": "deferred", "bounced": "bounced", "expired": "bounced", "undeliverable": "bounced", "deliverable": None, "delivered": "delivered"},
                default=None,
            ),
            diagnostic=pl.col("diagnostic").str.replace(r"^host \S+ said: ", "").str.replace(r" \(in reply to [^)]*\)$", ""),
            remote_mta=pl.when(pl.col("remote_mta").is_in(["none", "local"])).then(None).otherwise(pl.col("remote_mta")),
        )
        s = s.filter(pl.col("event_type").is_not_null())
        s = s.join(self.messages, on=["host", "qid"], how="left")
        # A recipient is injected when its message entered the queue (cleanup's message-id
        # line, logged once per message); its first status line names the recipient. A message
        # enqueued before this file began was injected in an earlier file.
        firsts = (
            s.filter(pl.col("queued").is_not_null())
            .filter(pl.struct("host", "qid", "recipient").is_first_distinct())
            .join(self.attempted.select("host", "qid", "recipient"), on=["host", "qid", "recipient"], how="anti")
        )
        injected = firsts.with_columns(
            event_type=pl.lit("injected"),
            ts=pl.col("queued"),
            diagnostic=pl.lit(None, pl.Utf8),
            enhanced_status=pl.lit(None, pl.Utf8),
            remote_mta=pl.lit(None, pl.Utf8),
            key=pl.concat_str([pl.lit("postfix-injected|"), "host", pl.lit("|"), "qid", pl.lit("|"), "recipient"]),
        )
        deferred_last = s.select("host", "qid", "recipient", "diagnostic", "enhanced_status", "remote_mta", "mta_instance", "status")
        self.attempted = (
            pl.concat([self.attempted, deferred_last], how="diagonal_relaxed")
            .unique(subset=["host", "qid", "recipient"], keep="last", maintain_order=True)
        )
        delivered = s.with_columns(key=pl.col("line"))
        cols = ["ts", "event_type", "message_id", "campaign_id", "recipient", "sender", "remote_mta", "enhanced_status", "diagnostic", "mta_instance", "key"]
        return pl.concat([injected.select(cols), delivered.select(cols)])

    def _expired_events(self, expired: pl.DataFrame) -> pl.DataFrame:
        """``status=expired``: every recipient still deferred for that queue id bounces."""
        keys = expired.select("ts", "host", "qid", "line")
        pending = self.attempted.filter(pl.col("status") == "deferred")
        rows = keys.join(pending, on=["host", "qid"], how="inner").join(self.messages, on=["host", "qid"], how="left")
        if rows.is_empty():
            return pl.DataFrame()
        return rows.select(
            "ts",
            event_type=pl.lit("bounced"),
            message_id="message_id",
            campaign_id="campaign_id",
            recipient="recipient",
            sender="sender",
            remote_mta="remote_mta",
            enhanced_status=pl.coalesce("enhanced_status", pl.lit("4.4.7")),
            diagnostic=pl.concat_str([pl.lit("message expired in queue; last error: "), pl.col("diagnostic").fill_null("none")]),
            bounce_class=pl.lit("soft"),
            bounce_reason=pl.lit("expired"),
            mta_instance="mta_instance",
            key=pl.concat_str(["line", pl.lit("|"), "recipient"]),
        )
