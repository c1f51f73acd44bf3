"""Complaints: ARF (current and draft-era), multiple and redacted recipients, Microsoft JMRP,
Apple's unsubscribe mail, the reporting provider; the full RFC 5965 / 6591 field parse; the
origin of the reported message."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import FIXTURES

from workbench.feedback import parse_message
from workbench.feedback.arf import _registrable, feedback_fields, provider_of
from workbench.feedback.arf_report import parse_feedback_report
from workbench.feedback.origin import message_id_of, of_headers
from workbench.feedback.trace import trace_header, verp_address

BOUNCES = FIXTURES / "bounces"


def arf(report_fields: str, original: str = "From: a@news.brightmart.example\nMessage-ID: <m1@news.brightmart.example>\n",
        sender: str = "FBL <fbl@fbl.example.net>", original_type: str = "message/rfc822") -> bytes:
    return (f"From: {sender}\nTo: fbl@news.brightmart.example\nSubject: report\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"r\"\n\n"
            "--r\nContent-Type: text/plain\n\nan abuse report\n"
            f"--r\nContent-Type: message/feedback-report\n\n{report_fields}\n"
            f"--r\nContent-Type: {original_type}\n\n{original}\nbody\n--r--\n").encode()


def test_feedback_fields_keep_order_and_continuations() -> None:
    fields = feedback_fields("Feedback-Type: abuse\nOriginal-Rcpt-To: a@x\nOriginal-Rcpt-To: b@x\n"
                             "Authentication-Results: mx;\n  dkim=pass\nnot a field line\nVersion: 1\n")
    assert fields["feedback-type"] == ["abuse"]
    assert fields["original-rcpt-to"] == ["a@x", "b@x"]
    assert fields["authentication-results"] == ["mx;\n  dkim=pass"]
    assert fields["version"] == ["1"]


def test_every_original_rcpt_to_is_a_complaint() -> None:
    raw = arf("Feedback-Type: abuse\nUser-Agent: ReturnPathFBL/2.0\nVersion: 1\nSource-IP: 198.51.100.21\n"
              "Original-Rcpt-To: <one@example.net>\nOriginal-Rcpt-To: two@example.net\nOriginal-Rcpt-To: one@example.net\n")
    report = parse_message(raw)
    assert [c.recipient for c in report.complaints] == ["one@example.net", "two@example.net"]
    assert {c.provider for c in report.complaints} == {"validity"}
    assert {c.rule for c in report.complaints} == {"arf:Original-Rcpt-To"}


def test_draft_era_report_with_received_date_and_removal_recipient() -> None:
    raw = arf("Feedback-Type: opt-out\nUser-Agent: ARF-Agent/1.0\nVersion: 0.1\n"
              "Received-Date: Sun, 1 Nov 2026 09:00:00 +0100\nRemoval-Recipient: leaver@example.net\n")
    (c,) = parse_message(raw).complaints
    assert (c.feedback_type, c.version, c.recipient) == ("opt-out", "0.1", "leaver@example.net")
    assert c.arrival_date == datetime(2026, 11, 1, 8, 0)


def test_without_rcpt_to_the_original_to_header_is_used() -> None:
    raw = arf("Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n",
              "From: a@news.brightmart.example\nTo: Reader <reader@example.net>\nMessage-ID: <m2@news.brightmart.example>\n")
    (c,) = parse_message(raw).complaints
    assert c.recipient == "reader@example.net" and c.rule == "arf:feedback-report"


@pytest.mark.parametrize(
    ("rcpt", "redacted"),
    [
        ("redacted@yahoo.com", True),
        ("xxxxxxxx@example.com", True),
        ("0123456789abcdef0123456789abcdef@example.com", True),
        ("aGVsbG8gd29ybGQgdGhpcyBpcyBoYXNoZWQ1@example.com", True),
        ("***@example.com", True),
        ("jane.doe@example.com", False),
        ("kijitora@example.com", False),
    ],
)
def test_redacted_and_hashed_recipients(rcpt: str, redacted: bool) -> None:
    raw = arf(f"Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\nOriginal-Rcpt-To: {rcpt}\n")
    (c,) = parse_message(raw).complaints
    assert c.recipient_redacted is redacted


def test_source_ip_comes_from_the_received_header_when_the_report_omits_it() -> None:
    original = ("Received: from mta.news.brightmart.example (mta.news.brightmart.example [198.51.100.21])\n"
                " by mx.example.net with ESMTP\nReceived: from app1 (app1 [10.0.0.5]) by mta\n"
                "From: a@news.brightmart.example\nMessage-ID: <m3@news.brightmart.example>\n")
    (c,) = parse_message(arf("Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n", original)).complaints
    assert c.source_ip == "198.51.100.21"
    with_header = "X-Originating-IP: [203.0.113.7]\n" + original
    (c,) = parse_message(arf("Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n", with_header)).complaints
    assert c.source_ip == "203.0.113.7"
    stated = arf("Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\nSource-IP: 192.0.2.9 (comment)\n", with_header)
    assert parse_message(stated).complaints[0].source_ip == "192.0.2.9"


def test_headers_only_original_is_read() -> None:
    raw = arf("Feedback-Type: abuse\nUser-Agent: X/1\nVersion: 1\n",
              "From: a@news.brightmart.example\nMessage-ID: <m4@news.brightmart.example>\n", original_type="text/rfc822-headers")
    assert parse_message(raw).origin.message_id == "m4@news.brightmart.example"


@pytest.mark.parametrize(
    ("user_agent", "sender", "reporting", "provider"),
    [
        ("Yahoo!-Mail-Feedback/2.0", "", "", "yahoo"),
        ("", "staff@hotmail.com", "", "microsoft"),
        ("ReturnPathFBL/1.0", "fbl@sfr.fr", "", "validity"),
        ("", "FBL <fbl@orange.fr>", "", "orange"),
        ("Unknown/1.0", "abuse@mail.example.co.jp", "", "example.co.jp"),
        ("Unknown/1.0", "abuse@example.org", "mx3.isp.example.net", "example.net"),
        ("", "", "", None),
    ],
)
def test_provider_of(user_agent: str, sender: str, reporting: str, provider: str | None) -> None:
    assert provider_of(user_agent, sender, reporting) == provider


@pytest.mark.parametrize(
    ("host", "expected"),
    [("mail.example.co.jp", "example.co.jp"), ("a.b.example.com", "example.com"), ("example.de", "example.de"),
     ("localhost", None), ("bad host name", None), ("", None), ("x.y.ac.uk", "y.ac.uk")],
)
def test_registrable(host: str, expected: str | None) -> None:
    assert _registrable(host) == expected


def test_jmrp_recipient_ip_and_provider() -> None:
    report = parse_message((BOUNCES / "jmrp-outlook.eml").read_bytes())
    assert report.kind == "complaint" and report.agent == "jmrp"
    (c,) = report.complaints
    assert (c.recipient, c.source_ip, c.provider, c.feedback_type, c.format) == (
        "reader@outlook.com", "198.51.100.21", "microsoft", "abuse", "jmrp")
    assert report.origin.message_id == "news-20261117.4@news.brightmart.example"


def test_jmrp_without_the_subject_is_recognised_by_its_header() -> None:
    raw = (BOUNCES / "jmrp-outlook.eml").read_bytes().replace(b"Subject: complaint about message from 198.51.100.21",
                                                              b"Subject: a report")
    (c,) = parse_message(raw).complaints
    assert c.format == "jmrp" and c.recipient == "reader@outlook.com"
    assert c.source_ip == "198.51.100.21"  # from the Received header of the attached message


def test_apple_unsubscribe_is_an_opt_out_from_the_sender() -> None:
    (c,) = parse_message((BOUNCES / "apple-unsubscribe.eml").read_bytes()).complaints
    assert (c.feedback_type, c.recipient, c.provider, c.format, c.rule) == (
        "opt-out", "reader@icloud.com", "apple", "apple-unsubscribe", "apple:X-Apple-Unsubscribe")
    assert c.arrival_date == datetime(2026, 11, 18, 10, 0)


# --- the full report ---------------------------------------------------------------------------------

def test_full_report_fields() -> None:
    raw = arf("Feedback-Type: auth-failure\nUser-Agent: SomeDKIMFilter/1.0\nVersion: 1\nAuth-Failure: bodyhash\n"
              "Delivery-Result: reject\nDKIM-Domain: news.brightmart.example\nDKIM-Selector: bm2026\n"
              "Source-IP: 198.51.100.21\nSource-Port: 2525\nIncidents: 3\nReported-Domain: news.brightmart.example\n"
              "Reported-URI: http://news.brightmart.example/x\nOriginal-Envelope-Id: ABC123\n"
              "Arrival-Date: Mon, 2 Nov 2026 09:00:00 +0000\nX-Vendor-Field: kept\n",
              original_type="text/rfc822-headers")
    report = parse_feedback_report(raw)
    assert report is not None
    assert (report.feedback_type, report.auth_failure, report.delivery_result) == ("auth-failure", "bodyhash", "reject")
    assert (report.dkim_domain, report.dkim_selector) == ("news.brightmart.example", "bm2026")
    assert (report.source_ip, report.source_port, report.incidents) == ("198.51.100.21", 2525, 3)
    assert report.reported_uri == ["http://news.brightmart.example/x"]
    assert report.original_envelope_id == "ABC123"
    assert report.arrival_date == int(datetime(2026, 11, 2, 9, 0).timestamp()) + _utc_offset()
    assert report.extra == {"x-vendor-field": ["kept"]}
    assert report.headers is not None and "Message-ID: <m1@news.brightmart.example>" in report.headers


def _utc_offset() -> int:
    naive = datetime(2026, 11, 2, 9, 0)
    return int(naive.timestamp() - naive.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()) * -1


def test_full_report_of_a_message_without_one_is_none() -> None:
    assert parse_feedback_report((BOUNCES / "postfix-userunknown.eml").read_bytes()) is None


def test_full_report_tolerates_bad_numbers() -> None:
    raw = arf("Feedback-Type: abuse\nVersion: one\nIncidents: many\nSource-Port: x\nArrival-Date: yesterday\n")
    report = parse_feedback_report(raw)
    assert report is not None
    assert (report.version, report.incidents, report.source_port, report.arrival_date) == (None, 1, 0, None)


# --- origin --------------------------------------------------------------------------------------------

def test_origin_from_trace_feedback_id_and_verp() -> None:
    headers = {"message-id": ["<n9@news.brightmart.example>"], "feedback-id": ["news-1:newsletter:brightmart:bm1"],
               "x-workbench-trace": [trace_header("news-1", "C42", "newsletter", key=b"k")],
               "from": ["Brightmart <newsletter@news.brightmart.example>"], "date": ["Mon, 2 Nov 2026 10:00:00 +0100"],
               "subject": ["Hi"], "list-id": ["<newsletter.brightmart.example>"]}
    o = of_headers(headers, trace_key=b"k")
    assert (o.message_id, o.campaign_id, o.contact_id, o.stream) == ("n9@news.brightmart.example", "news-1", "C42", "newsletter")
    assert o.trace_valid is True and o.sender == "newsletter@news.brightmart.example"
    assert o.sent_at == datetime(2026, 11, 2, 9, 0)
    assert o.list_id == "<newsletter.brightmart.example>"
    assert of_headers(headers, trace_key=b"wrong").trace_valid is False
    verp = of_headers({}, envelope=[f"<{verp_address('news-2', 'C7', 'news.brightmart.example', key=b'k')}>"], trace_key=b"k")
    assert (verp.campaign_id, verp.contact_id, verp.trace_valid) == ("news-2", "C7", True)


def test_origin_of_nothing_is_empty() -> None:
    o = of_headers({})
    assert o.message_id is None and o.campaign_id is None and o.contact_id is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("<a.b@example.com>", "a.b@example.com"), ("a.b@example.com", "a.b@example.com"),
     ("  <x@y>  (comment)", "x@y"), ("no id", None), ("", None)],
)
def test_message_id_of(value: str, expected: str | None) -> None:
    assert message_id_of(value) == expected


def test_not_spam_and_fraud_and_virus_feedback_types() -> None:
    for kind in ("not-spam", "fraud", "virus", "other"):
        raw = arf(f"Feedback-Type: {kind}\nUser-Agent: X/1\nVersion: 1\nOriginal-Rcpt-To: r@example.net\n")
        (c,) = parse_message(raw).complaints
        assert c.feedback_type == kind


def test_missing_feedback_type_is_abuse_and_case_is_normalised() -> None:
    (c,) = parse_message(arf("User-Agent: X/1\nVersion: 1\nOriginal-Rcpt-To: r@example.net\n")).complaints
    assert c.feedback_type == "abuse"
    (c,) = parse_message(arf("Feedback-Type: Abuse\nOriginal-Rcpt-To: r@example.net\n")).complaints
    assert c.feedback_type == "abuse"


def test_reporting_mta_and_reported_domain() -> None:
    raw = arf("Feedback-Type: abuse\nReporting-MTA: dns; MX3.ISP.Example.NET\nReported-Domain: News.Brightmart.Example\n"
              "Reported-Domain: other.example\nOriginal-Rcpt-To: r@example.net\n")
    (c,) = parse_message(raw).complaints
    assert (c.reporting_mta, c.reported_domain) == ("mx3.isp.example.net", "news.brightmart.example")


def test_complaint_reports_are_never_bounces() -> None:
    # an ARF report about a bounce-looking message is still a complaint
    original = ("From: MAILER-DAEMON@news.brightmart.example\nSubject: Undelivered Mail Returned to Sender\n"
                "Message-ID: <m5@news.brightmart.example>\n")
    report = parse_message(arf("Feedback-Type: abuse\nOriginal-Rcpt-To: r@example.net\n", original))
    assert report.kind == "complaint" and not report.bounces
