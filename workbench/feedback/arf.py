"""Complaints: ARF reports (RFC 5965 / 6650, and the draft-era ``Version: 0.1`` with
``Received-Date``), Microsoft JMRP reports (not ARF: the complained-about message attached,
the recipient in ``X-HmXmrOriginalRecipient``), Yahoo CFL (ARF), and Apple Mail's
unsubscribe notifications (``X-Apple-Unsubscribe: true``).

``feedback_fields`` parses a ``message/feedback-report`` part on its own (pure);
``decode`` turns a message into a complaint :class:`Report`, or ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from importlib import resources

import yaml

from workbench.feedback import origin
from workbench.feedback.dsn import clean_address, split_body
from workbench.feedback.mime import Mail, parse_headers
from workbench.feedback.model import Complaint, Report

__all__ = ["FEEDBACK_TYPES", "decode", "feedback_fields", "is_complaint", "provider_of"]

FEEDBACK_TYPES = ("abuse", "fraud", "virus", "other", "not-spam", "auth-failure", "opt-out", "dmarc")
ARF_ORIGINALS = ("Content-Type: message/rfc822", "Content-Type: text/rfc822-headers",
                 "Content-Type: text/rfc822-header", "Content-Type: message/global",
                 "Content-Type: text/global-headers")
#: a hashed local part: 16+ hex digits, or 24+ base64 characters with at least 3 digits
#: (addresses reach this check lower-cased)
_HASHED = re.compile(r"^(?:[0-9a-f]{16,}|(?=(?:[^\d]*\d){3})[a-z0-9+/]{24,}={0,2})$", re.IGNORECASE)
_REDACTED_LOCAL = {"redacted", "hashed", "anonymous", "undisclosed", "xxxxx", "xxxxxxxx", "removed"}
_JMRP_SUBJECT = "complaint about message from "


def feedback_fields(text: str) -> dict[str, list[str]]:
    """Fields of a ``message/feedback-report`` part: lower-cased name -> values, in order
    (continuation lines joined with a newline, as the report wrote them)."""
    fields: dict[str, list[str]] = {}
    name: str | None = None
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            if fields:
                name = None
            continue
        if line[:1] in (" ", "\t") and name is not None:
            fields[name][-1] += "\n" + line
            continue
        head, sep, value = line.partition(":")
        if not sep or " " in head.strip():
            name = None
            continue
        name = head.strip().lower()
        fields.setdefault(name, []).append(value.strip())
    return fields


@lru_cache(maxsize=1)
def _fbl_table() -> list[dict[str, object]]:
    text = resources.files("workbench").joinpath("data", "bounces", "fbl.yaml").read_text(encoding="utf-8")
    return list(yaml.safe_load(text)["fbl"])


def provider_of(user_agent: str, sender: str, reporting_mta: str) -> str | None:
    """The provider that sent a report: a name from ``fbl.yaml``, else the registrable
    domain of the reporting MTA or of the report's sender (``example.co.jp``)."""
    probes = {"user_agent": user_agent.lower(), "from": sender.lower(), "reporting_mta": reporting_mta.lower()}
    for entry in _fbl_table():
        for key, probe in probes.items():
            patterns = entry.get(key) or []
            assert isinstance(patterns, list)
            if probe and any(str(p) in probe for p in patterns):
                return str(entry["provider"])
    address = clean_address(sender)
    return _registrable(reporting_mta.lower()) or _registrable(address.rsplit("@", 1)[1] if "@" in address else "")


_SECOND_LEVEL = {"ac", "co", "com", "ed", "edu", "go", "gov", "ne", "net", "or", "org"}


def _registrable(host: str) -> str | None:
    """``mail.example.co.jp`` -> ``example.co.jp`` (a short rule, not the public suffix list)."""
    labels = [label for label in host.strip().strip(".").split(".") if label]
    if len(labels) < 2 or not all(re.fullmatch(r"[a-z0-9-]+", label) for label in labels):
        return None
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def _redacted(address: str | None) -> bool:
    if not address:
        return True
    local = address.split("@", 1)[0]
    return local.lower() in _REDACTED_LOCAL or bool(_HASHED.match(local)) or set(local) <= {"x", "*", "."}


def _date(value: str) -> datetime | None:
    return origin._date(re.sub(r"\s*\([^)]*\)\s*$", "", value.strip())) if value else None


def is_complaint(mail: Mail) -> str | None:
    """``"arf"``, ``"jmrp"`` or ``"apple-unsubscribe"`` when ``mail`` is a complaint report."""
    ctype = mail.first("content-type").lower()
    if mail.report_type == "feedback-report" or "feedback-report" in ctype or "message/feedback-report" in mail.parts:
        return "arf"
    if _JMRP_SUBJECT in mail.subject.lower() and ("message/rfc822" in mail.parts or "x-hmxmroriginalrecipient" in mail.body.lower()):
        return "jmrp"
    if "x-hmxmroriginalrecipient:" in mail.body.lower() and "message/rfc822" in mail.parts:
        return "jmrp"
    if mail.first("x-apple-unsubscribe").lower() == "true":
        return "apple-unsubscribe"
    return None


def _complaint(fmt: str, fields: dict[str, list[str]], recipient: str | None, mail: Mail, rule: str,
               feedback_type: str | None = None) -> Complaint:
    def one(name: str) -> str:
        values = fields.get(name)
        return values[0].strip() if values else ""

    user_agent = one("user-agent")
    reporting = one("reporting-mta")
    reporting = reporting.split(";", 1)[1].strip() if ";" in reporting else reporting
    source_ip = one("source-ip").split()[0] if one("source-ip") else ""
    mail_from = clean_address(one("original-mail-from")) or None
    domains = fields.get("reported-domain") or []
    return Complaint(
        feedback_type=(feedback_type or one("feedback-type") or "abuse").lower(),
        recipient=recipient,
        recipient_redacted=_redacted(recipient),
        provider=provider_of(user_agent, mail.first("from"), reporting),
        user_agent=user_agent or None,
        source_ip=source_ip or None,
        arrival_date=_date(one("arrival-date") or one("received-date")),
        reported_domain=domains[0].strip().lower() if domains else None,
        reporting_mta=reporting.lower() or None,
        original_mail_from=mail_from,
        auth_results=" ".join(one("authentication-results").split()) or None,
        version=one("version") or None,
        format=fmt,
        rule=rule,
    )


_IP_IN_RECEIVED = re.compile(r"[\[(]((?:\d{1,3}\.){3}\d{1,3}|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})[\])]", re.IGNORECASE)


def _sender_ip(headers: dict[str, list[str]]) -> str | None:
    """The IP that handed the reported message to the provider, when the report does not say
    (``Source-IP`` missing): ``X-Originating-IP``, else the topmost ``Received`` header."""
    for value in headers.get("x-originating-ip", []):
        found = _IP_IN_RECEIVED.search(value) or re.search(r"((?:\d{1,3}\.){3}\d{1,3})", value)
        if found:
            return found[1]
    for value in headers.get("received", [])[:1]:
        for found in _IP_IN_RECEIVED.finditer(value):
            if not found[1].startswith("127.") and found[1] != "::1":
                return found[1]
    return None


def decode(mail: Mail, *, trace_key: bytes | None = None) -> Report | None:
    """The complaint report of ``mail``, or ``None`` when it is no complaint."""
    fmt = is_complaint(mail)
    if fmt is None:
        return None
    report, original = split_body(mail.body, ARF_ORIGINALS)
    headers = parse_headers(original) if original else {}
    complaints: list[Complaint] = []
    if fmt == "arf":
        _, _, part = report.partition("Content-Type: message/feedback-report")
        fields = feedback_fields(part)
        recipients: list[str] = []
        for name in ("original-rcpt-to", "removal-recipient"):
            for value in fields.get(name, []):
                address = clean_address(value)
                if address and address not in recipients:
                    recipients.append(address)
        if not recipients:
            fallback = clean_address(" ".join(headers.get("x-hmxmroriginalrecipient", []) or headers.get("to", [])))
            recipients = [fallback] if fallback else []
        if not fields.get("source-ip") and (ip := _sender_ip(headers)):
            fields["source-ip"] = [ip]
        rule = "arf:Original-Rcpt-To" if fields.get("original-rcpt-to") else "arf:feedback-report"
        for recipient in recipients or [""]:
            complaints.append(_complaint("arf", fields, recipient or None, mail, rule))
    elif fmt == "jmrp":
        address = clean_address(" ".join(headers.get("x-hmxmroriginalrecipient", []))) or \
            clean_address(" ".join(headers.get("to", [])))
        in_subject = re.search(r"(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]{6,})\s*$", mail.subject.strip(), re.IGNORECASE)
        ip = in_subject[1] if in_subject else _sender_ip(headers)
        fields = {"source-ip": [ip]} if ip else {}
        arrival = headers.get("x-hmxmroriginalrecipient") and mail.first("date")
        if arrival:
            fields["arrival-date"] = [mail.first("date")]
        complaints.append(_complaint("jmrp", fields, address or None, mail, "jmrp:X-HmXmrOriginalRecipient"
                                     if headers.get("x-hmxmroriginalrecipient") else "jmrp:To", "abuse"))
    else:
        address = clean_address(mail.first("from"))
        fields = {"arrival-date": [mail.first("date")]}
        complaints.append(_complaint("apple-unsubscribe", fields, address or None, mail, "apple:X-Apple-Unsubscribe",
                                     "opt-out"))
        headers = {"to": [mail.first("to")]}
    envelope = [v for name in ("to", "delivered-to", "x-original-to") for v in mail.headers.get(name, [])]
    source = origin.of_headers(headers, envelope=envelope, trace_key=trace_key)
    return Report(kind="complaint", agent=fmt, complaints=tuple(complaints), origin=source,
                  subject=mail.subject or None, sender=mail.first("from") or None)
