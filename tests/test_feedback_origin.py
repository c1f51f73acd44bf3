"""Where a bounce or complaint came from: the returned message's headers, our trace headers,
the VERP address the report was sent to, other platforms' campaign headers."""

from __future__ import annotations

from datetime import datetime

import pytest

from workbench.feedback import parse_message
from workbench.feedback.mime import read_mail
from workbench.feedback.origin import _date, of, of_headers
from workbench.feedback.trace import feedback_id, trace_header, verp_address

KEY = b"origin-key"


def bounce(returned_headers: str, to: str = "newsletter@news.brightmart.example", extra: str = "") -> bytes:
    return (f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\nTo: {to}\n{extra}"
            "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"o\"\n\n"
            "--o\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.net.\n\n"
            "<gone@example.net>: host mx.example.net said: 550 5.1.1 unknown user (in reply to RCPT TO command)\n"
            "--o\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
            "Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n"
            f"--o\nContent-Type: text/rfc822-headers\n\n{returned_headers}\n--o--\n").encode()


@pytest.mark.parametrize("name", ["X-Campaign-ID", "X-Campaign", "X-Mailing-ID", "X-Job"])
def test_other_platforms_campaign_headers(name: str) -> None:
    report = parse_message(bounce(f"From: a@news.brightmart.example\n{name}: spring-sale\n"))
    assert report.origin.campaign_id == "spring-sale"


def test_our_headers_win_over_campaign_headers() -> None:
    headers = (f"From: a@news.brightmart.example\nX-Campaign-ID: other\nFeedback-ID: "
               f"{feedback_id('news-7', 'newsletter', 'brightmart', 'bm1')}\n")
    assert parse_message(bounce(headers)).origin.campaign_id == "news-7"
    headers += f"X-Workbench-Trace: {trace_header('news-8', 'C8', 'newsletter')}\n"
    origin = parse_message(bounce(headers)).origin
    assert (origin.campaign_id, origin.contact_id, origin.stream) == ("news-8", "C8", "newsletter")


@pytest.mark.parametrize("header", ["To", "Delivered-To", "X-Original-To", "Envelope-To"])
def test_verp_in_any_envelope_header(header: str) -> None:
    verp = verp_address("news-9", "C9", "news.brightmart.example", key=KEY)
    mail = read_mail(bounce("From: a@news.brightmart.example\n", to="ops@brightmart.example",
                            extra=f"{header}: <{verp}>\n" if header != "To" else ""))
    if header == "To":
        mail = read_mail(bounce("From: a@news.brightmart.example\n", to=verp))
    origin = of(mail, "From: a@news.brightmart.example\n", trace_key=KEY)
    assert (origin.campaign_id, origin.contact_id, origin.trace_valid) == ("news-9", "C9", True)


def test_a_verp_address_signed_with_another_key_is_flagged() -> None:
    verp = verp_address("news-9", "C9", "news.brightmart.example", key=b"other")
    origin = of_headers({}, envelope=[verp], trace_key=KEY)
    assert origin.trace_valid is False and origin.contact_id == "C9"


def test_the_returned_message_gives_id_sender_subject_and_date() -> None:
    headers = ("From: \"Brightmart\" <Newsletter@News.Brightmart.Example>\nSubject: =?UTF-8?Q?Nos_id=C3=A9es?=\n"
               "Date: Tue, 10 Nov 2026 09:00:00 +0100\nMessage-ID: <n10@news.brightmart.example>\n"
               "List-Id: Newsletter <newsletter.brightmart.example>\n")
    origin = parse_message(bounce(headers)).origin
    assert origin.message_id == "n10@news.brightmart.example"
    assert origin.sender == "newsletter@news.brightmart.example"
    assert origin.subject == "Nos idées"
    assert origin.sent_at == datetime(2026, 11, 10, 8, 0)
    assert origin.list_id == "Newsletter <newsletter.brightmart.example>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Tue, 10 Nov 2026 09:00:00 +0100", datetime(2026, 11, 10, 8, 0)), ("Tue, 10 Nov 2026 09:00:00", datetime(2026, 11, 10, 9, 0)),
     ("10 Nov 2026 09:00:00 GMT", datetime(2026, 11, 10, 9, 0)), ("not a date", None), ("", None)],
)
def test_dates(value: str, expected: datetime | None) -> None:
    assert _date(value) == expected


def test_a_bounce_without_returned_headers_has_an_empty_origin_but_the_verp() -> None:
    verp = verp_address("news-3", "C3", "news.brightmart.example")
    raw = bounce("", to=verp).replace(b"--o\nContent-Type: text/rfc822-headers\n\n\n", b"")
    origin = parse_message(raw).origin
    assert origin.message_id is None and (origin.campaign_id, origin.contact_id) == ("news-3", "C3")
