"""DMARC failure (forensic) reports: RFC 6591 / RFC 9991 ARF auth-failure reports, and the
plain-text summaries some gateways send instead (Exim/cPanel style).

Pure: :func:`parse_failure` takes the parsed report mail and returns one :class:`Failure`
(a dict of the ``dmarc_failures`` columns). Only the failing message's headers are kept,
never its body.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from workbench.errors import ParseError
from workbench.sources.mailbox import Part, iter_parts

__all__ = ["Failure", "is_failure_report", "parse_failure"]

ARF_FIELDS = {
    "feedback-type": "feedback_type", "user-agent": "user_agent", "version": "version", "arrival-date": "arrival_date",
    "source-ip": "source_ip", "original-mail-from": "original_mail_from", "original-rcpt-to": "original_rcpt_to",
    "original-envelope-id": "original_envelope_id", "reported-domain": "reported_domain", "reported-uri": "reported_uri",
    "auth-failure": "auth_failure", "authentication-results": "authentication_results", "dkim-domain": "dkim_domain",
    "dkim-identity": "dkim_identity", "dkim-selector": "dkim_selector", "dkim-canonicalized-header": None,
    "dkim-canonicalized-body": None, "spf-dns": "spf_dns", "delivery-result": "delivery_result",
    "identity-alignment": "identity_alignment",
}
TEXT_FIELDS = {
    "sender domain": "reported_domain", "sender ip address": "source_ip", "received date": "arrival_date",
    "spf alignment": "spf_alignment", "dkim alignment": "dkim_alignment", "dmarc results": "delivery_result",
}
_TEXT_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]{2,30}):\s*(.*?)\s*$", re.MULTILINE)
_HEADERS_MARK = re.compile(r"^-{2,}.*(copy of the headers|original message|headers).*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class Failure:
    """One failure report, as the ``dmarc_failures`` columns."""

    fields: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return str(self.fields["failure_key"])


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if stamp.tzinfo is None:
        return stamp
    return stamp.astimezone(UTC).replace(tzinfo=None)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def is_failure_report(msg: Message, parts: list[Part]) -> bool:
    """An ARF ``auth-failure`` report, or a plain-text DMARC failure/forensic summary."""
    for part in parts:
        if part.content_type == "message/feedback-report":
            return re.search(rb"(?im)^feedback-type:\s*auth-failure", part.payload) is not None
    subject = str(msg.get("Subject", "")).lower()
    if ("dmarc" in subject and ("failure" in subject or "forensic" in subject)) or "ruf" in subject:
        return any(p.content_type == "text/plain" for p in parts)
    return False


def _sample(parts: list[Part]) -> tuple[Message | None, str | None]:
    for part in parts:
        if part.content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            headers = part.payload.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
            return BytesHeaderParser().parsebytes(headers + b"\n\n"), headers.decode("utf-8", "replace")
    return None, None


def parse_failure(msg: Message, source: str = "<message>") -> Failure:
    """Parse a failure report mail.

    Raises
    ------
    ParseError
        Neither an ARF feedback part nor a recognisable plain-text summary.
    """
    parts = list(iter_parts(msg))
    out: dict[str, Any] = {v: None for v in ARF_FIELDS.values() if v}
    extra: dict[str, str] = {}
    feedback = next((p for p in parts if p.content_type == "message/feedback-report"), None)
    sample, sample_headers = _sample(parts)
    if feedback is not None:
        out["format"] = "arf"
        fb = BytesHeaderParser().parsebytes(feedback.payload.lstrip(b"\r\n") + b"\n\n")
        for name in {k.lower() for k in fb}:
            values = [_clean(str(v)) or "" for v in fb.get_all(name) or []]
            column = ARF_FIELDS.get(name, "")
            if column:
                out[column] = "; ".join(v for v in values if v) or None
            elif column is not None:
                extra[name] = "; ".join(values)
        if not out["feedback_type"]:
            raise ParseError(source, "message/feedback-report", "feedback report without Feedback-Type")
    else:
        text = next((p.text for p in parts if p.content_type == "text/plain"), "")
        mark = _HEADERS_MARK.search(text)
        summary = text[: mark.start()] if mark else text
        found = {k.lower(): v for k, v in _TEXT_LINE.findall(summary)}
        fields = {TEXT_FIELDS[k]: v for k, v in found.items() if k in TEXT_FIELDS}
        if "source_ip" not in fields and "reported_domain" not in fields:
            raise ParseError(source, "text/plain", "a failure report needs a feedback-report part or a plain-text "
                             "summary naming the sender domain and IP", summary[:200])
        out.update({k: v for k, v in fields.items() if k in out})
        out["format"] = "text"
        out["feedback_type"] = "auth-failure"
        align = [f"{m}" for m, k in (("spf", "spf_alignment"), ("dkim", "dkim_alignment")) if fields.get(k, "").lower() in ("yes", "pass")]
        out["identity_alignment"] = ",".join(align) or "none"
        if mark and sample is None:
            block = text[mark.end():].lstrip("\r\n").split("\n\n", 1)[0]
            sample, sample_headers = BytesHeaderParser().parsebytes(block.encode("utf-8", "replace") + b"\n\n"), block
    arrival = out["arrival_date"]
    out["arrival_date"] = _when(arrival)
    out["source_ip"] = _clean(out["source_ip"])
    for key in ("original_mail_from", "original_rcpt_to"):
        if out[key]:
            out[key] = parseaddr(out[key])[1] or out[key]
    if out["reported_domain"]:
        out["reported_domain"] = out["reported_domain"].lower()
    out["reporter"] = parseaddr(str(msg.get("From", "")))[1].lower() or None
    out["report_date"] = _when(msg.get("Date"))
    if sample is not None:
        out["message_id"] = _clean(sample.get("Message-ID"))
        out["subject"] = _clean(str(sample.get("Subject"))) if sample.get("Subject") else None
        header_from = parseaddr(str(sample.get("From", "")))[1]
        out["header_from"] = header_from.rsplit("@", 1)[-1].lower() if "@" in header_from else None
    else:
        out["message_id"] = out["subject"] = out["header_from"] = None
    out["sample_headers"] = sample_headers[:20000] if sample_headers else None
    out["extra"] = json.dumps(extra, sort_keys=True) if extra else None
    identity = [out["reporter"], out["source_ip"], arrival, out["reported_domain"], out["message_id"], out["original_rcpt_to"]]
    out["failure_key"] = hashlib.md5("\x1f".join(str(v or "") for v in identity).encode()).hexdigest()
    return Failure(out)
