"""SMTP TLS reports (RFC 8460)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from conftest import FIXTURES

from workbench.errors import ParseError
from workbench.sources.dmarc.tlsrpt import looks_like_tlsrpt, parse_tlsrpt

DATA = (FIXTURES / "dmarc" / "tlsrpt.json").read_bytes()


def test_every_field() -> None:
    r = parse_tlsrpt(DATA, "tlsrpt.json")
    assert r.meta == {"org_name": "Receiver Example Inc.", "report_id": "2026-11-26T00:00:00Z_brightmart.example",
                      "contact_info": "tls-reports@receiver.example", "begin_ts": datetime(2026, 11, 26),
                      "end_ts": datetime(2026, 11, 26, 23, 59, 59)}
    assert r.policies.to_dicts() == [
        {"policy_no": 0, "policy_type": "sts", "policy_domain": "brightmart.example",
         "policy_string": ["version: STSv1", "mode: enforce", "mx: mx1.brightmart.example", "max_age: 604800"],
         "mx_host": ["mx1.brightmart.example"], "successful_sessions": 950, "failed_sessions": 50},
        {"policy_no": 1, "policy_type": "no-policy-found", "policy_domain": "tx.brightmart.example", "policy_string": None,
         "mx_host": None, "successful_sessions": 12, "failed_sessions": 0},
    ]
    assert r.failures.to_dicts() == [
        {"policy_no": 0, "detail_no": 0, "result_type": "certificate-expired", "sending_mta_ip": "198.51.100.7",
         "receiving_mx_hostname": "mx1.brightmart.example", "receiving_mx_helo": None, "receiving_ip": "192.0.2.25",
         "failed_sessions": 40, "additional_information": None, "failure_reason_code": None},
        {"policy_no": 0, "detail_no": 1, "result_type": "starttls-not-supported", "sending_mta_ip": "198.51.100.8",
         "receiving_mx_hostname": "mx2.brightmart.example", "receiving_mx_helo": "mx2", "receiving_ip": None,
         "failed_sessions": 10, "additional_information": "https://receiver.example/tls", "failure_reason_code": "no STARTTLS"},
    ]
    assert r.key == parse_tlsrpt(DATA.replace(b"Receiver Example Inc.", b"receiver example inc.")).key


def test_sniff() -> None:
    assert looks_like_tlsrpt(DATA[:300] + DATA[-400:])
    assert not looks_like_tlsrpt(b'{"ts": 1, "event_type": "delivered"}')


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "no \"policies\" list"),
        (json.dumps({"policies": []}).encode(), "needs \"organization-name\" and \"report-id\""),
        (json.dumps({"organization-name": "x", "report-id": "y", "policies": ["nope"]}).encode(), "not an object"),
    ],
)
def test_bad_documents(doc: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_tlsrpt(doc)


def test_bad_dates_and_bytes_give_warnings_not_losses() -> None:
    doc = json.loads(DATA)
    doc["date-range"]["start-datetime"] = "yesterday"
    doc["contact-info"] = "caf\u00e9"
    raw = json.dumps(doc, ensure_ascii=False).encode().replace("é".encode(), b"\xe9")
    r = parse_tlsrpt(raw)
    assert r.meta["begin_ts"] is None and r.meta["contact_info"] == "caf\ufffd"
    assert any("not an RFC 3339 time" in w for w in r.warnings)
    assert any("invalid UTF-8" in w for w in r.warnings)
