"""The full content of an ARF report (RFC 5965, with the RFC 6591 authentication-failure
and RFC 6650 fields), as written: every field of the ``message/feedback-report`` part and
the returned headers, exactly (folding kept).

Complaint handling uses the lighter :mod:`.arf`; this parse is for tools and audits that
need every field (``auth_failure``, ``dkim_*``, ``reported_uri``, ...).
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime

from workbench.feedback.arf import feedback_fields

__all__ = ["FeedbackReport", "parse_feedback_report"]

MULTI = {"authentication-results", "reported-domain", "reported-uri", "original-rcpt-to"}


@dataclass(frozen=True)
class FeedbackReport:
    """The fields of one ARF report (names follow RFC 5965 / 6591; values as written)."""

    feedback_type: str
    user_agent: str | None
    version: int | None
    arrival_date: int | None
    authentication_results: list[str] = field(default_factory=list)
    incidents: int = 1
    original_envelope_id: str | None = None
    original_mail_from: str | None = None
    original_rcpt_to: list[str] = field(default_factory=list)
    reported_domain: list[str] = field(default_factory=list)
    reported_uri: list[str] = field(default_factory=list)
    reporting_mta: str | None = None
    source_ip: str | None = None
    source_port: int = 0
    auth_failure: str | None = None
    delivery_result: str | None = None
    identity_alignment: str | None = None
    dkim_domain: str | None = None
    dkim_identity: str | None = None
    dkim_selector: str | None = None
    dkim_canonicalized_body: str | None = None
    dkim_canonicalized_header: str | None = None
    dkim_selector_dns: str | None = None
    dkim_adsp_dns: str | None = None
    spf_dns: str | None = None
    headers: str | None = None
    extra: dict[str, list[str]] = field(default_factory=dict)


def _status_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n\n".join("\n".join(f"{n}: {v}" for n, v in block.items()) for block in payload
                           if isinstance(block, Message))
    raw = part.get_payload(decode=True)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)


def parse_feedback_report(data: bytes) -> FeedbackReport | None:
    """The ARF report in ``data``, or ``None`` when there is no ``message/feedback-report``."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    report: Message | None = None
    headers: str | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/feedback-report" and report is None:
            report = part
        elif ctype in ("text/rfc822-headers", "text/rfc822-header") and headers is None:
            raw = part.get_payload(decode=True)
            headers = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
    if report is None:
        return None
    fields = feedback_fields(_status_text(report))

    def one(name: str) -> str | None:
        values = fields.get(name)
        return values[0].strip() if values and values[0].strip() else None

    arrival = one("arrival-date") or one("received-date")
    epoch: int | None = None
    if arrival:
        try:
            epoch = int(parsedate_to_datetime(arrival).timestamp())
        except (TypeError, ValueError, IndexError):
            epoch = None
    reporting = one("reporting-mta")
    if reporting and ";" in reporting:
        reporting = reporting.split(";", 1)[1].strip()
    version = one("version")
    known = {"feedback-type", "user-agent", "version", "arrival-date", "received-date", "authentication-results",
             "incidents", "original-envelope-id", "original-mail-from", "original-rcpt-to", "reported-domain",
             "reported-uri", "reporting-mta", "source-ip", "source-port", "auth-failure", "delivery-result",
             "identity-alignment", "dkim-domain", "dkim-identity", "dkim-selector", "dkim-canonicalized-body",
             "dkim-canonicalized-header", "dkim-selector-dns", "dkim-adsp-dns", "spf-dns"}
    return FeedbackReport(
        feedback_type=(one("feedback-type") or "").lower(),
        user_agent=one("user-agent"),
        version=int(float(version)) if version and version.replace(".", "", 1).isdigit() else None,
        arrival_date=epoch,
        authentication_results=list(fields.get("authentication-results", [])),
        incidents=int(one("incidents") or 1) if (one("incidents") or "1").isdigit() else 1,
        original_envelope_id=one("original-envelope-id"),
        original_mail_from=one("original-mail-from"),
        original_rcpt_to=list(fields.get("original-rcpt-to", [])),
        reported_domain=list(fields.get("reported-domain", [])),
        reported_uri=list(fields.get("reported-uri", [])),
        reporting_mta=reporting,
        source_ip=(one("source-ip") or "").split()[0] if one("source-ip") else None,
        source_port=int(one("source-port") or 0) if (one("source-port") or "0").isdigit() else 0,
        auth_failure=(one("auth-failure") or "").lower() or None,
        delivery_result=(one("delivery-result") or "").lower() or None,
        identity_alignment=(one("identity-alignment") or "").lower() or None,
        dkim_domain=one("dkim-domain"),
        dkim_identity=one("dkim-identity"),
        dkim_selector=one("dkim-selector"),
        dkim_canonicalized_body=one("dkim-canonicalized-body"),
        dkim_canonicalized_header=one("dkim-canonicalized-header"),
        dkim_selector_dns=one("dkim-selector-dns"),
        dkim_adsp_dns=one("dkim-adsp-dns"),
        spf_dns=one("spf-dns"),
        headers=headers,
        extra={k: v for k, v in fields.items() if k not in known},
    )
