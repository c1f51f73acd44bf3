"""Loading bounce and complaint mail: ``.eml`` files, mbox files and Maildir messages.

Each message is decoded by :func:`workbench.feedback.parse_message` (pure). Bounces go to
``bounces`` and complaints to ``complaints`` (full detail, keyed by the message's SHA-256
and the recipient, so the same message under any name loads once), and both land in
``events`` (``bounced`` / ``deferred`` / ``complained`` / ``unsubscribed``). Once the batch
is loaded, :func:`workbench.store.loading.load_paths` runs ``link_feedback.sql``, which ties
them to the message we sent (Message-ID, trace header, campaign and recipient, or the
recipient's latest earlier send).
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from workbench.feedback import parse_message
from workbench.feedback.model import Report
from workbench.feedback.origin import _date
from workbench.feedback.rules import RuleSet, site_rules
from workbench.feedback.trace import parse_trace
from workbench.sources import mailbox
from workbench.sources.mailbox import is_mbox, iter_messages, looks_like_message
from workbench.sources.reader import Reject
from workbench.sources.sendlogs.base import ParseOptions

__all__ = ["DESCRIPTION", "NAME", "bounce_class", "frames", "load", "sniff"]

NAME = "feedback-mail"
DESCRIPTION = "Bounce (DSN), complaint (ARF, JMRP) and auto-reply mail: .eml, mbox, Maildir messages"
_MARKERS = (
    b"report-type=delivery-status", b"report-type=\"delivery-status\"", b"report-type=feedback-report",
    b"report-type=\"feedback-report\"", b"message/delivery-status", b"message/feedback-report",
    b"x-failed-recipients:", b"mailer-daemon", b"mail delivery", b"undeliver", b"delivery status notification",
    b"returned mail", b"failure notice", b"complaint about message from", b"x-apple-unsubscribe:",
    b"auto-submitted: auto-replied", b"\"notificationtype\"", b"delivery failure", b"non remis", b"unzustellbar",
    b"x-hmxmroriginalrecipient", b"postmaster@",
)
BLOCK_REASONS = ("blocked", "badreputation", "spamdetected", "authfailure", "requireptr", "policyviolation",
                 "securityerror", "speeding", "toomanyconn", "rejected", "virusdetected", "notcompliantrfc",
                 "norelaying", "contenterror", "failedstarttls")
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")


_DMARC = (b"report domain:", b"report-id:", b"application/zip", b"application/gzip", b"application/x-gzip",
          b".xml.gz", b".xml.zip", b"tlsrpt", b"application/tlsrpt")


def sniff(head: bytes, path: Path) -> bool:
    """True for a message (or mbox) that is not a DMARC / TLS report (those belong to their
    own format): bounces, complaints and auto-replies are recognised by content, and any
    other message is reported as "neither" when loaded."""
    if not (looks_like_message(head) or is_mbox(head)):
        return False
    lowered = head[:32768].lower()
    if any(marker in lowered for marker in _MARKERS):
        return True
    return not any(marker in lowered for marker in _DMARC)


def _key(*parts: object) -> str:
    return hashlib.md5("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def bounce_class(reason: str, hard: bool) -> str:
    """The events' ``bounce_class`` of a reason: hard, block (refused for the sender: policy,
    reputation, content), undetermined, or soft."""
    if hard:
        return "hard"
    if reason in BLOCK_REASONS:
        return "block"
    if reason in ("undefined", "onhold"):
        return "undetermined"
    return "soft"


def _domain(address: str | None) -> str | None:
    return address.rsplit("@", 1)[1].lower() if address and "@" in address else None


def frames(report: Report, sha: str, source: str, received: datetime | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for ``bounces`` and ``complaints`` from one decoded message."""
    o = report.origin
    common = {
        "message_id": o.message_id, "campaign_id": o.campaign_id, "contact_id": o.contact_id,
        "sending_domain": _domain(o.sender), "subject": o.subject, "sent_at": o.sent_at, "feedback_id": o.feedback_id,
        "trace": o.trace, "trace_valid": o.trace_valid, "message_sha256": sha, "source_file": source,
        "received_at": received,
    }
    bounces = []
    for n, b in enumerate(report.bounces):
        if b.reason in ("vacation", "delivered"):
            continue
        bounces.append({
            **common, "bounce_key": _key(sha, b.recipient, n), "recipient": b.recipient,
            "recipient_domain": _domain(b.recipient), "reason": b.reason, "hard": b.hard,
            "bounce_class": bounce_class(b.reason, b.hard), "rule": b.rule, "action": b.action,
            "status": b.status, "reply_code": b.reply_code, "diagnostic": b.diagnostic, "smtp_command": b.command,
            "remote_mta": b.remote_mta, "reporting_mta": b.reporting_mta, "agent": b.agent, "alias": b.alias,
            "sender": o.sender, "sending_ip": None,
        })
    complaints = []
    for n, c in enumerate(report.complaints):
        complaints.append({
            **common, "complaint_key": _key(sha, c.recipient, n), "arrival_date": c.arrival_date,
            "feedback_type": c.feedback_type, "format": c.format, "provider": c.provider, "user_agent": c.user_agent,
            "recipient": None if c.recipient_redacted else c.recipient, "recipient_redacted": c.recipient_redacted,
            "recipient_domain": _domain(c.recipient),
            "source_ip": c.source_ip, "reported_domain": c.reported_domain, "reporting_mta": c.reporting_mta,
            "original_mail_from": c.original_mail_from, "auth_results": c.auth_results, "arf_version": c.version,
            "rule": c.rule, "sending_ip": c.source_ip, "list_name": o.stream,
        })
    return bounces, complaints


def _events(bounces: list[dict[str, Any]], complaints: list[dict[str, Any]]) -> pl.DataFrame:
    rows = []
    for b in bounces:
        if b["received_at"] is None:
            continue
        warning = b["action"] == "delayed" or ((b["status"] or "").startswith("4") and not b["hard"])
        kind = "deferred" if warning else "bounced"
        rows.append({
            "ts": b["received_at"], "event_type": kind, "message_id": b["message_id"], "campaign_id": b["campaign_id"],
            "contact_id": b["contact_id"], "recipient": b["recipient"], "sender": b["sender"],
            "sending_domain": b["sending_domain"], "remote_mta": b["remote_mta"], "bounce_class": b["bounce_class"],
            "bounce_reason": b["reason"], "smtp_code": b["reply_code"], "enhanced_status": b["status"],
            "diagnostic": b["diagnostic"], "key": b["bounce_key"],
        })
    for c in complaints:
        ts = c["received_at"] or c["arrival_date"]
        if ts is None or c["feedback_type"] not in (*COMPLAINT_TYPES, "opt-out"):
            continue
        rows.append({
            "ts": ts, "event_type": "unsubscribed" if c["feedback_type"] == "opt-out" else "complained",
            "message_id": c["message_id"], "campaign_id": c["campaign_id"], "contact_id": c["contact_id"],
            "recipient": c["recipient"], "sending_domain": c["sending_domain"], "sending_ip": c["source_ip"],
            "user_agent": c["user_agent"], "key": c["complaint_key"],
        })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"received_at": pl.Datetime("us"), "sent_at": pl.Datetime("us"), "arrival_date": pl.Datetime("us"),
              "reply_code": pl.Int16(), "hard": pl.Boolean(), "trace_valid": pl.Boolean(), "recipient_redacted": pl.Boolean()}
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns([pl.col(c).cast(t) for c, t in schema.items() if c in frame.columns])


def load(path: Path, sink: Any, options: ParseOptions, rules: RuleSet | None = None) -> None:
    """Load every message of ``path`` (an ``.eml``, an mbox) into the store."""
    from workbench.sources.sendlogs.base import Parsed

    rules = rules or site_rules()
    key = os.environ.get("WORKBENCH_TRACE_KEY", "").encode() or None
    bounces: list[dict[str, Any]] = []
    complaints: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    skipped = 0
    for item in iter_messages(path, max_bytes=mailbox.MAX_MESSAGE):  # read at call time: tests lower it
        if item.error:
            rejects.append(Reject(item.position, item.error, "", "UnsafeInput"))
            continue
        report = parse_message(item.data, rules)
        if report.error:
            rejects.append(Reject(item.position, report.error, item.data[:200].decode("utf-8", "replace"), "ParseError"))
            continue
        if report.kind == "none":
            skipped += 1
            continue
        sha = hashlib.sha256(item.data).hexdigest()
        received = _received_at(item.data) or options.reference_time
        if key is not None and report.origin.trace:
            trace = parse_trace(report.origin.trace, key=key)
            if trace is not None:
                report = _with_valid(report, trace.valid)
        b, c = frames(report, sha, str(path), received.replace(tzinfo=None) if received else None)
        bounces += b
        complaints += c
        sink.progress(len(item.data))
    if skipped:
        rejects.append(Reject("-", f"{skipped} message(s) were neither a bounce nor a complaint; left alone", "", "Skipped"))
    sink.add_rejects(rejects)
    if bounces:
        sink.upsert_rows("bounces", _frame(bounces))
    if complaints:
        sink.upsert_rows("complaints", _frame(complaints))
    events = _events(bounces, complaints)
    if len(events):
        parsed = Parsed.of(events)
        sink.add_events(parsed.events)


def _received_at(data: bytes) -> datetime | None:
    head = data[: data.find(b"\n\n")] if b"\n\n" in data else data[:8192]
    for line in head.split(b"\n"):
        if line[:5].lower() == b"date:":
            return _date(line[5:].decode("utf-8", "replace").strip())
    return None


def _with_valid(report: Report, valid: bool | None) -> Report:
    from dataclasses import replace

    return replace(report, origin=replace(report.origin, trace_valid=valid))
