"""Failure (forensic) reports: ARF auth-failure and plain-text summaries."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from conftest import FIXTURES

from workbench.errors import ParseError
from workbench.sources.dmarc.failure import is_failure_report, parse_failure
from workbench.sources.mailbox import iter_parts, parse_message

DMARC = FIXTURES / "dmarc"


def test_arf_every_field() -> None:
    msg = parse_message((DMARC / "failure_arf.eml").read_bytes())
    assert is_failure_report(msg, list(iter_parts(msg)))
    f = parse_failure(msg).fields
    assert {k: f[k] for k in ("format", "reporter", "feedback_type", "user_agent", "version", "source_ip", "original_mail_from",
                              "original_rcpt_to", "reported_domain", "auth_failure", "delivery_result", "identity_alignment",
                              "dkim_domain", "message_id", "subject", "header_from")} == {
        "format": "arf", "reporter": "dmarc-noreply@receiver.example", "feedback_type": "auth-failure",
        "user_agent": "ReceiverReporter/1.0", "version": "1", "source_ip": "203.0.113.66",
        "original_mail_from": "bounce@mailer.spoof.example", "original_rcpt_to": "alice@receiver.example",
        "reported_domain": "brightmart.example", "auth_failure": "dmarc", "delivery_result": "delivered",
        "identity_alignment": "none", "dkim_domain": "brightmart.example", "message_id": "<spoof-123@mailer.spoof.example>",
        "subject": "Your parcel is waiting", "header_from": "brightmart.example",
    }
    assert f["arrival_date"] == datetime(2026, 11, 26, 10, 14, 7)
    assert f["report_date"] == datetime(2026, 11, 26, 10, 15)
    assert f["authentication_results"].startswith("receiver.example; dmarc=fail")
    assert json.loads(f["extra"]) == {"x-vendor-field": "kept"}
    assert "Subject: Your parcel is waiting" in f["sample_headers"]
    assert len(f["failure_key"]) == 32


def test_plain_text_summary() -> None:
    msg = parse_message((DMARC / "failure_text.eml").read_bytes())
    assert is_failure_report(msg, list(iter_parts(msg)))
    f = parse_failure(msg).fields
    assert (f["format"], f["feedback_type"], f["source_ip"], f["reported_domain"], f["identity_alignment"]) == (
        "text", "auth-failure", "198.51.100.199", "brightmart.example", "dkim")
    assert f["arrival_date"] == datetime(2026, 11, 26, 9, 59, 58)
    assert (f["message_id"], f["subject"], f["header_from"]) == ("<fake-9@brightmart.example>", "Invoice overdue", "brightmart.example")
    assert f["delivery_result"] == "None, Accept"


def test_same_report_with_other_line_endings_has_the_same_key() -> None:
    raw = (DMARC / "failure_arf.eml").read_bytes()
    a = parse_failure(parse_message(raw)).key
    b = parse_failure(parse_message(raw.replace(b"\n", b"\r\n"))).key
    assert a == b


def test_base64_feedback_part() -> None:
    import base64

    raw = (DMARC / "failure_arf.eml").read_text()
    head, rest = raw.split("Content-Type: message/feedback-report\n\n", 1)
    fields, tail = rest.split("\n--ruf-boundary", 1)
    encoded = base64.encodebytes(fields.replace("\n", "\r\n").encode()).decode()
    raw = head + "Content-Type: message/feedback-report\nContent-Transfer-Encoding: base64\n\n" + encoded + "\n--ruf-boundary" + tail
    f = parse_failure(parse_message(raw.encode())).fields
    assert f["source_ip"] == "203.0.113.66" and f["feedback_type"] == "auth-failure"


def test_abuse_reports_and_plain_mail_are_not_failure_reports() -> None:
    raw = (DMARC / "failure_arf.eml").read_bytes().replace(b"Feedback-Type: auth-failure", b"Feedback-Type: abuse")
    msg = parse_message(raw)
    assert not is_failure_report(msg, list(iter_parts(msg)))
    msg = parse_message(b"From: a@b.example\nSubject: DMARC failure report\nContent-Type: text/plain\n\nnothing useful here\n")
    assert is_failure_report(msg, list(iter_parts(msg)))
    with pytest.raises(ParseError, match="plain-text summary"):
        parse_failure(msg)
    msg = parse_message((DMARC / "failure_arf.eml").read_bytes().replace(b"Feedback-Type: auth-failure\n", b""))
    with pytest.raises(ParseError, match="without Feedback-Type"):
        parse_failure(msg)
