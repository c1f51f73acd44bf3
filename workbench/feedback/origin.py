"""Which of our messages a bounce or complaint is about: the returned message's headers
(Message-ID, our trace headers, Feedback-ID, campaign headers), or a VERP return path.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from workbench.feedback.mime import Mail, parse_headers
from workbench.feedback.model import Origin
from workbench.feedback.trace import parse_feedback_id, parse_trace, parse_verp

__all__ = ["message_id_of", "of", "of_headers"]

CAMPAIGN_HEADERS = ("x-campaign-id", "x-campaign", "x-mailing-id", "x-job")
_MSGID = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
_ADDR = re.compile(r"[^\s<>\"',;]+@[^\s<>\"',;]+")


def message_id_of(value: str) -> str | None:
    """The bare Message-ID in a header value (``<a@b>`` -> ``a@b``)."""
    match = _MSGID.search(value or "")
    if match:
        return match[1]
    value = (value or "").strip().strip("<>")
    return value if "@" in value and " " not in value else None


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.replace(tzinfo=None)


def _first(headers: dict[str, list[str]], *names: str) -> str:
    for name in names:
        values = headers.get(name)
        if values and values[0].strip():
            return values[0].strip()
    return ""


def of_headers(headers: dict[str, list[str]], *, envelope: list[str] | None = None,
               trace_key: bytes | None = None) -> Origin:
    """The origin named by the headers of a returned message (and the addresses the report
    was delivered to, for VERP)."""
    trace_value = _first(headers, "x-workbench-trace")
    trace = parse_trace(trace_value, key=trace_key) if trace_value else None
    fbid_value = _first(headers, "feedback-id")
    fbid = parse_feedback_id(fbid_value) if fbid_value else None
    verp = None
    for address in envelope or ():
        for candidate in _ADDR.findall(address):
            verp = parse_verp(candidate, key=trace_key)
            if verp:
                break
        if verp:
            break
    campaign = (trace.campaign_id if trace else None) or (fbid.campaign_id if fbid else None) \
        or (verp.campaign_id if verp else None) or _first(headers, *CAMPAIGN_HEADERS) or None
    contact = (trace.contact_id if trace else None) or (verp.contact_id if verp else None)
    sender = _ADDR.search(_first(headers, "from"))
    return Origin(
        message_id=message_id_of(_first(headers, "message-id")),
        campaign_id=campaign,
        contact_id=contact,
        stream=(fbid.stream if fbid else None) or (trace.list_name if trace else None),
        sender=sender.group(0).lower() if sender else None,
        subject=_first(headers, "subject") or None,
        sent_at=_date(_first(headers, "date")),
        feedback_id=fbid_value or None,
        trace=trace_value or None,
        trace_valid=(trace.valid if trace else None) if trace else (verp.valid if verp else None),
        list_id=_first(headers, "list-id") or None,
    )


def of(mail: Mail, original: str, *, trace_key: bytes | None = None) -> Origin:
    """The origin of a report: the headers of the returned message in ``original`` (text)."""
    headers = parse_headers(original) if original else {}
    envelope = [v for name in ("to", "delivered-to", "x-original-to", "envelope-to") for v in mail.headers.get(name, [])]
    return of_headers(headers, envelope=envelope, trace_key=trace_key)
