"""RFC 3464 fields and the generic DSN decoder."""

from __future__ import annotations

import pytest

from workbench.feedback.dsn import DsnFields, clean_address, field, rfc3464, split_body, sweep


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Final-Recipient: rfc822; kijitora@example.jp", ("final-recipient", "RFC822", "kijitora@example.jp", "")),
        ("Final-Recipient: <x@example.com>", ("final-recipient", "RFC822", "<x@example.com>", "")),
        ("Diagnostic-Code: SMTP; 550 5.1.1 unknown (user)", ("diagnostic-code", "SMTP", "550 5.1.1 unknown (user)", "")),
        ("Diagnostic-Code: 550 no such user", ("diagnostic-code", "SMTP", "550 no such user", "")),
        ("Status: 4.0.0 (host lookup failure)", ("status", "", "4.0.0", "host lookup failure")),
        ("Status: 5.1.1 extra words", ("status", "", "5.1.1", "")),
        ("Action: FAILED", ("action", "", "failed", "")),
        ("Action: expired", ("action", "", "delayed", "")),
        ("Action: nonsense", ("action", "", "", "")),
        ("Remote-MTA: DNS; MX.Example.COM", ("remote-mta", "DNS", "mx.example.com", "")),
        ("Reporting-MTA: dns; mail.example.jp", ("reporting-mta", "DNS", "mail.example.jp", "")),
        ("Subject: not a DSN field", None),
        ("no colon here", None),
    ],
)
def test_field(line: str, expected: tuple[str, str, str, str] | None) -> None:
    assert field(line) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rfc822; <Kijitora@Example.JP>", "kijitora@example.jp"),
        ("<a.b+tag@example.com>", "a.b+tag@example.com"),
        ("\"Name\" <x@example.org>.", "x@example.org"),
        ("no address", ""),
        ("", ""),
    ],
)
def test_clean_address(value: str, expected: str) -> None:
    assert clean_address(value) == expected


def test_sweep_collapses_space_and_drops_a_trailing_boundary() -> None:
    assert sweep("  550  user\n   unknown  ") == "550 user unknown"
    assert sweep("550 user unknown --4F1A22C0123.1762164902/mx.example") == "550 user unknown"
    assert sweep("--leading-boundary-text at the start stays") == "--leading-boundary-text at the start stays"


def test_split_body_cuts_at_the_first_original_marker_on_its_own_line() -> None:
    body = "report text\nsays Content-Type: message/rfc822 inline\nContent-Type: text/rfc822-headers\nFrom: a@b\n"
    report, original = split_body(body)
    assert report.endswith("inline\n") and original == "From: a@b\n"
    assert split_body("no original here") == ("no original here", "")


def test_fields_group_per_recipient_and_share_per_message_values() -> None:
    reader = DsnFields()
    lines = ["Reporting-MTA: dns; mx.example.com", "Arrival-Date: Tue, 3 Nov 2026 10:15:01 +0000", "", "Final-Recipient: rfc822; one@example.org", "Original-Recipient: rfc822; alias@example.org", "Action: failed", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 no such", "    user here", "", "Final-Recipient: rfc822; two@example.org", "Action: delayed", "Status: 4.2.2", "Remote-MTA: dns; mx2.example.org", ""]
    consumed = [reader.feed(line) for line in lines]
    assert consumed.count(False) == 3  # the blank lines
    one, two = reader.finish()
    assert (one.recipient, one.alias, one.action, one.status) == ("one@example.org", "alias@example.org", "failed", "5.1.1")
    assert one.diagnostic == "550 5.1.1 no such user here"
    assert one.reporting_mta == two.reporting_mta == "mx.example.com"
    assert (two.action, two.status, two.remote_mta) == ("delayed", "4.2.2", "mx2.example.org")


def test_a_repeated_recipient_is_one_record_and_addressless_groups_are_dropped() -> None:
    reader = DsnFields()
    for line in ["Final-Recipient: rfc822; x@example.org", "Status: 5.1.1", "Final-Recipient: rfc822; x@example.org",
                 "Action: failed", "Final-Recipient: rfc822; |/usr/bin/procmail", "Status: 5.3.0"]:
        reader.feed(line)
    records = reader.finish()
    assert [(r.recipient, r.status, r.action) for r in records] == [("x@example.org", "5.1.1", "failed")]


def test_original_recipient_stands_in_for_a_missing_final_recipient() -> None:
    reader = DsnFields()
    for line in ["Original-Recipient: rfc822; only@example.org", "Action: failed", "Status: 5.0.0"]:
        reader.feed(line)
    (record,) = reader.finish()
    assert record.recipient == "only@example.org"


def test_status_comment_joins_the_diagnostic() -> None:
    reader = DsnFields()
    for line in ["Final-Recipient: rfc822; x@example.org", "Status: 4.4.1 (connection refused)"]:
        reader.feed(line)
    (record,) = reader.finish()
    assert record.status == "4.4.1" and record.diagnostic == "connection refused"


def test_domain_only_recipient_is_kept_for_decoders() -> None:
    reader = DsnFields()
    for line in ["Final-Recipient: rfc822; @example.org", "Status: 5.1.2"]:
        reader.feed(line)
    (record,) = reader.finish()
    assert record.recipient == "@example.org"


GENERIC = """Your message could not be delivered to one recipient.

Content-Type: message/delivery-status
Reporting-MTA: dns; mta.example.net

Final-Recipient: rfc822; gone@example.net
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 5.1.1 mailbox does not exist (in reply to RCPT TO command)

Content-Type: text/rfc822-headers
From: newsletter@news.brightmart.example
Message-ID: <n1@news.brightmart.example>
"""


def test_generic_decoder_reads_fields_code_command_and_text() -> None:
    (record,), original = rfc3464(GENERIC)
    assert record.recipient == "gone@example.net"
    assert record.status == "5.0.0"  # as written: the classifier prefers the text's 5.1.1 later
    assert record.reply_code == "550"
    assert record.command == "RCPT"
    assert record.diagnostic.startswith("Your message could not be delivered")
    assert "mailbox does not exist" in record.diagnostic
    assert original.startswith("From: newsletter@news.brightmart.example")


def test_the_classified_bounce_prefers_the_specific_status() -> None:
    from workbench.feedback import parse_message

    raw = ("From: MAILER-DAEMON@mta.example.net\nSubject: Delivery failure\nContent-Type: multipart/report; "
           "report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nYour message could not be "
           "delivered.\n--b\nContent-Type: message/delivery-status\n\n" + GENERIC.split("Content-Type: message/delivery-status\n")[1]
           .split("Content-Type: text/rfc822-headers")[0] + "--b--\n")
    (bounce,) = parse_message(raw.encode()).bounces
    assert (bounce.status, bounce.reason, bounce.hard) == ("5.1.1", "userunknown", True)


def test_generic_decoder_without_delivery_status_finds_nothing() -> None:
    assert rfc3464("just some text\nwith no fields\n") == ([], "")


def test_a_report_attached_to_a_report_is_read() -> None:
    inner = GENERIC.replace("Your message could not", "Inner: your message could not")
    outer = "Content-Type: message/rfc822\nFrom: postmaster@example.net\nSubject: bounce\n\n" + inner
    records, _ = rfc3464("see attached\n" + outer)
    assert [r.recipient for r in records] == ["gone@example.net"]


def test_reporting_mta_without_a_part_marker_is_found() -> None:
    body = "Delivery failed.\n\nReporting-MTA: dns; old.example.net\n\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.2.2\n"
    (record,), _ = rfc3464(body)
    assert (record.recipient, record.status, record.reporting_mta) == ("a@example.org", "5.2.2", "old.example.net")


def test_two_recipients_keep_their_own_diagnostics() -> None:
    body = """Content-Type: message/delivery-status
Reporting-MTA: dns; mta.example.net

Final-Recipient: rfc822; a@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 unknown user

Final-Recipient: rfc822; b@example.org
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 mailbox full
"""
    a, b = rfc3464(body)[0]
    assert (a.diagnostic, a.reply_code) == ("550 5.1.1 unknown user", "550")
    assert (b.diagnostic, b.reply_code) == ("552 5.2.2 mailbox full", "552")


def test_x_postfix_and_x_unix_diagnostic_types_are_kept() -> None:
    reader = DsnFields()
    for line in ["Final-Recipient: rfc822; a@example.org", "Diagnostic-Code: X-Postfix; mail forwarding loop",
                 "Final-Recipient: rfc822; b@example.org", "Diagnostic-Code: X-Unix; 75"]:
        reader.feed(line)
    a, b = reader.finish()
    assert (a.spec, a.diagnostic) == ("X-POSTFIX", "mail forwarding loop")
    assert (b.spec, b.diagnostic) == ("X-UNIX", "75")


def test_finish_records_fills_codes_and_command() -> None:
    from workbench.feedback.dsn import finish_records
    from workbench.feedback.model import Delivery

    records = [Delivery(recipient="a@example.org", diagnostic="550  5.1.1   user\n unknown"),
               Delivery(recipient="b@example.org", status="4.2.2", diagnostic="over quota")]
    finish_records(records, context="(in reply to RCPT TO command)")
    assert (records[0].diagnostic, records[0].status, records[0].reply_code, records[0].command) == (
        "550 5.1.1 user unknown", "5.1.1", "550", "RCPT")
    assert (records[1].status, records[1].reply_code, records[1].command) == ("4.2.2", "", "RCPT")


def test_scan_fields_separates_text_from_fields() -> None:
    from workbench.feedback.dsn import scan_fields

    records, others = scan_fields("Some words first\nFinal-Recipient: rfc822; a@example.org\nStatus: 5.1.1\nmore words\n")
    assert [r.recipient for r in records] == ["a@example.org"]
    assert others == ["Some words first", "more words"]
