"""SMTP TLS reports (RFC 8460): JSON in, a report with its policies and failure details out.

Pure: :func:`parse_tlsrpt` takes the JSON document's bytes. Each policy keeps its type,
domain, policy string, MX hosts and session counts; each failure detail its result type,
sending and receiving addresses, MX host and HELO, session count and reason code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from workbench.errors import ParseError

__all__ = ["TlsReport", "parse_tlsrpt"]

POLICY_SCHEMA: dict[str, Any] = {"policy_no": pl.Int32, "policy_type": pl.Utf8, "policy_domain": pl.Utf8, "policy_string": pl.List(pl.Utf8),
                 "mx_host": pl.List(pl.Utf8), "successful_sessions": pl.Int64, "failed_sessions": pl.Int64}
FAILURE_SCHEMA: dict[str, Any] = {"policy_no": pl.Int32, "detail_no": pl.Int32, "result_type": pl.Utf8, "sending_mta_ip": pl.Utf8,
                  "receiving_mx_hostname": pl.Utf8, "receiving_mx_helo": pl.Utf8, "receiving_ip": pl.Utf8,
                  "failed_sessions": pl.Int64, "additional_information": pl.Utf8, "failure_reason_code": pl.Utf8}


@dataclass
class TlsReport:
    """One SMTP TLS report."""

    meta: dict[str, Any]
    policies: pl.DataFrame
    failures: pl.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return hashlib.md5(f"{self.meta['org_name'].strip().lower()}\x1f{self.meta['report_id'].strip()}".encode()).hexdigest()


def looks_like_tlsrpt(head: bytes) -> bool:
    """Whether a JSON document's start looks like a TLS report."""
    return head.lstrip().startswith(b"{") and b'"policies"' in head and (b'"organization-name"' in head or b'"report-id"' in head)


def _time(value: Any, what: str, warnings: list[str]) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        warnings.append(f"{what} {value!r} is not an RFC 3339 time; left empty")
        return None


def _count(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def parse_tlsrpt(data: bytes, source: str = "<bytes>") -> TlsReport:
    """Parse an RFC 8460 report.

    Raises
    ------
    ParseError
        Not JSON, or not a TLS report (no ``report-id`` / ``organization-name`` / ``policies``).
    """
    warnings: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        warnings.append(f"invalid UTF-8 at byte {exc.start}; replaced by U+FFFD")
        text = data.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(source, f"line {exc.lineno} column {exc.colno}", f"not JSON: {exc.msg}", text[max(0, exc.pos - 60): exc.pos + 60]) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("policies"), list):
        raise ParseError(source, "top level", "not an SMTP TLS report (no \"policies\" list)", text[:200])
    org, report_id = doc.get("organization-name"), doc.get("report-id")
    if not org or not report_id:
        raise ParseError(source, "top level", "an SMTP TLS report needs \"organization-name\" and \"report-id\"", text[:200])
    dates = doc.get("date-range") or {}
    meta = {"org_name": str(org).strip(), "report_id": str(report_id).strip(), "contact_info": doc.get("contact-info"),
            "begin_ts": _time(dates.get("start-datetime"), "start-datetime", warnings),
            "end_ts": _time(dates.get("end-datetime"), "end-datetime", warnings)}
    policies: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for n, entry in enumerate(doc["policies"]):
        if not isinstance(entry, dict):
            raise ParseError(source, f"policies[{n}]", "a policy entry is not an object", json.dumps(entry)[:200])
        policy, summary = entry.get("policy") or {}, entry.get("summary") or {}
        policies.append({"policy_no": n, "policy_type": policy.get("policy-type"), "policy_domain": (policy.get("policy-domain") or "").lower() or None,
                         "policy_string": _strings(policy.get("policy-string")), "mx_host": _strings(policy.get("mx-host")),
                         "successful_sessions": _count(summary.get("total-successful-session-count")),
                         "failed_sessions": _count(summary.get("total-failure-session-count"))})
        for k, d in enumerate(entry.get("failure-details") or []):
            if not isinstance(d, dict):
                raise ParseError(source, f"policies[{n}].failure-details[{k}]", "a failure detail is not an object")
            failures.append({"policy_no": n, "detail_no": k, "result_type": d.get("result-type"),
                             "sending_mta_ip": d.get("sending-mta-ip"), "receiving_mx_hostname": (d.get("receiving-mx-hostname") or "").lower() or None,
                             "receiving_mx_helo": d.get("receiving-mx-helo"), "receiving_ip": d.get("receiving-ip"),
                             "failed_sessions": _count(d.get("failed-session-count")), "additional_information": d.get("additional-information"),
                             "failure_reason_code": d.get("failure-reason-code")})
    return TlsReport(meta, pl.DataFrame(policies, schema=POLICY_SCHEMA), pl.DataFrame(failures, schema=FAILURE_SCHEMA), warnings)
