"""From a message to its report: the hand-written fixtures of the main MTAs (golden), the
reason decision and the rule it names, hard / soft, auto-replies, non-feedback mail, and
the origin (Message-ID, trace headers, VERP) of the returned message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import FIXTURES

from workbench.feedback import parse_message
from workbench.feedback.classify import classify_record
from workbench.feedback.decide import decide, is_hard, provider_for
from workbench.feedback.model import Delivery
from workbench.feedback.rules import default_rules

BOUNCES = FIXTURES / "bounces"
EXPECTED = [json.loads(line) for line in (BOUNCES / "expected.jsonl").read_text().splitlines() if line.strip()]


def rows_of(name: str) -> list[dict[str, Any]]:
    report = parse_message((BOUNCES / name).read_bytes())
    rows = [{"file": name, "recipient": b.recipient, "reason": b.reason, "hard": b.hard, "status": b.status,
             "reply_code": b.reply_code, "feedback_type": None, "rule": b.rule} for b in report.bounces]
    rows += [{"file": name, "recipient": c.recipient, "reason": "feedback", "hard": False, "status": None,
              "reply_code": None, "feedback_type": c.feedback_type, "rule": c.rule} for c in report.complaints]
    return rows or [{"file": name, "recipient": None, "reason": None, "hard": None, "status": None, "reply_code": None,
                     "feedback_type": None, "rule": None}]


@pytest.mark.parametrize("name", sorted({e["file"] for e in EXPECTED}))
def test_fixture_matches_its_golden_rows(name: str) -> None:
    assert rows_of(name) == [e for e in EXPECTED if e["file"] == name]


def test_every_fixture_has_golden_rows() -> None:
    assert {p.name for p in BOUNCES.glob("*.eml")} == {e["file"] for e in EXPECTED}


@pytest.mark.parametrize(
    ("name", "agent"),
    [
        ("postfix-userunknown.eml", "postfix"), ("exim-hostunknown.eml", "exim"),
        ("sendmail-userunknown.eml", "sendmail"), ("qmail-userunknown.eml", "qmail"),
        ("gmail-userunknown.eml", "rfc3464"), ("amazonses-suppressed.eml", "rfc3464"),
        ("amazonses-sns-complaint.eml", "amazonses"),
        ("office365-userunknown.eml", "rfc3464"),
    ],
)
def test_the_decoder_of_each_mta(name: str, agent: str) -> None:
    report = parse_message((BOUNCES / name).read_bytes())
    assert report.kind == ("complaint" if "complaint" in name else "bounce")
    assert report.agent == agent


def test_bounce_details_and_origin() -> None:
    report = parse_message((BOUNCES / "postfix-userunknown.eml").read_bytes())
    (b,) = report.bounces
    assert b.command == "RCPT" and b.action == "failed" and b.remote_mta == "mx1.example.org"
    assert b.reporting_mta == "mx.news.brightmart.example"
    assert "User unknown in virtual mailbox table" in (b.diagnostic or "")
    o = report.origin
    assert o.message_id == "news-20261103.42@news.brightmart.example"
    assert o.feedback_id == "news-20261103:newsletter:brightmart:bm1"
    assert o.campaign_id == "news-20261103"
    assert o.sender == "newsletter@news.brightmart.example"


def test_verp_return_path_names_the_campaign_and_contact() -> None:
    report = parse_message((BOUNCES / "office365-userunknown.eml").read_bytes())
    assert report.origin.campaign_id == "news-20261109"
    assert report.origin.contact_id == "C0000077"
    assert report.origin.message_id == "news-20261109.77@news.brightmart.example"
    assert report.origin.trace == "v=1; c=news-20261109; r=C0000077; l=newsletter"
    assert report.origin.stream == "newsletter"


def test_complaints_carry_their_origin() -> None:
    arf = parse_message((BOUNCES / "arf-abuse.eml").read_bytes())
    assert arf.kind == "complaint" and arf.agent == "arf"
    (c,) = arf.complaints
    assert (c.source_ip, c.reported_domain, c.original_mail_from) == ("198.51.100.21", "news.brightmart.example",
                                                                       "bounce@news.brightmart.example")
    assert c.auth_results and "dkim=pass" in c.auth_results
    assert arf.origin.message_id == "news-20261115.12@news.brightmart.example"
    assert arf.origin.campaign_id == "news-20261115"
    apple = parse_message((BOUNCES / "apple-unsubscribe.eml").read_bytes())
    assert apple.origin.campaign_id == "news-20261118" and apple.origin.contact_id == "C0000009"


def test_yahoo_cfl_recipient_is_redacted_and_the_message_id_remains() -> None:
    report = parse_message((BOUNCES / "arf-yahoo-redacted.eml").read_bytes())
    (c,) = report.complaints
    assert c.recipient_redacted and c.provider == "yahoo" and c.version == "0.1"
    assert c.arrival_date is not None and c.arrival_date.isoformat().startswith("2026-11-16T09:00")
    assert report.origin.message_id == "news-20261116.31@news.brightmart.example"


def test_autoreply_is_not_a_bounce() -> None:
    report = parse_message((BOUNCES / "autoreply-vacation.eml").read_bytes())
    assert report.kind == "autoreply"
    assert [(b.reason, b.hard) for b in report.bounces] == [("vacation", False)]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a message at all",
        b"From: a@b\nSubject: hello\n\nhi\n",
        (BOUNCES / "not-a-bounce.eml").read_bytes(),
        b"\xff\xfe\x00garbage\x00" * 100,
        b"From: MAILER-DAEMON@x\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; boundary=\n\n",
    ],
)
def test_anything_else_is_none_and_never_raises(raw: bytes) -> None:
    report = parse_message(raw)
    assert report.kind == "none" and not report.bounces and not report.complaints


def test_a_delivery_report_is_not_a_bounce() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example.net\nSubject: Successful Mail Delivery Report\nContent-Type: multipart/report; "
           b"report-type=delivery-status; boundary=\"d\"\n\n--d\nContent-Type: text/plain\n\ndelivered\n--d\n"
           b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
           b"Final-Recipient: rfc822; happy@example.net\nAction: delivered\nStatus: 2.0.0\n--d--\n")
    report = parse_message(raw)
    assert report.kind == "delivery"
    assert [(b.reason, b.hard, b.action) for b in report.bounces] == [("delivered", False, "delivered")]


# --- deciding ---------------------------------------------------------------------------------------

def record(**fields: str) -> Delivery:
    d = Delivery(recipient=fields.pop("recipient", "x@example.net"), spec=fields.pop("spec", "SMTP"))
    for name, value in fields.items():
        setattr(d, name, value)
    return d


@pytest.mark.parametrize(
    ("fields", "reason", "rule_prefix"),
    [
        ({"status": "5.1.1", "diagnostic": "550 5.1.1 no such user"}, "userunknown", "status:5.1.1"),
        ({"status": "5.2.2", "diagnostic": "552 5.2.2 over quota"}, "mailboxfull", "status:5.2.2"),
        ({"status": "5.0.0", "diagnostic": "550 mailbox full"}, "mailboxfull", "text:mailboxfull"),
        ({"status": "4.0.0", "diagnostic": "connection timed out", "action": "delayed"}, "expired", ""),
        ({"status": "5.7.1", "diagnostic": "554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org"},
         "blocked", "text:blocked"),
        ({"status": "", "diagnostic": "", "spec": ""}, "undefined", "fallback:undefined"),
        ({"status": "", "diagnostic": "something nobody has ever written"}, "onhold", "fallback:onhold"),
        ({"diagnostic": "| /usr/bin/procmail exited 75", "spec": "X-UNIX"}, "mailererror", ""),
        ({"reason": "hostunknown", "rule": "mta:exim \"Unrouteable address\"", "diagnostic": "Unrouteable address"},
         "hostunknown", "mta:exim"),
        ({"status": "2.1.5", "diagnostic": "250 ok"}, "delivered", "status:2.1.5"),
    ],
)
def test_decide_names_the_rule(fields: dict[str, str], reason: str, rule_prefix: str) -> None:
    got_reason, rule = decide(record(**fields), default_rules())
    assert got_reason == reason
    assert rule.startswith(rule_prefix)


def test_an_mta_reason_that_is_final_is_kept() -> None:
    d = record(reason="suspend", rule="mta:x account disabled", diagnostic="550 5.1.1 user unknown", status="5.1.1")
    assert decide(d, default_rules()) == ("suspend", "mta:x account disabled")


def test_provider_rules_come_before_the_generic_ones() -> None:
    rules = default_rules()
    d = record(status="5.7.1", reply_code="550", remote_mta="gmail-smtp-in.l.google.com",
               diagnostic="550 5.7.1 [198.51.100.20] Gmail has detected that this message is likely unsolicited mail.")
    assert provider_for(d, "gmail.com", rules).name == "google"  # type: ignore[union-attr]
    reason, rule = decide(d, rules, "gmail.com")
    assert reason == "spamdetected" and rule.startswith("provider:google")


def test_provider_is_found_by_host_when_the_domain_is_unknown() -> None:
    rules = default_rules()
    d = record(remote_mta="mta7.am0.yahoodns.net")
    assert provider_for(d, "brightmart-customer.example", rules).name == "yahoo"  # type: ignore[union-attr]
    assert provider_for(record(), "unknown.example", rules) is None


@pytest.mark.parametrize(
    ("reason", "status", "diagnostic", "hard"),
    [
        ("userunknown", "5.1.1", "", True),
        ("hostunknown", "5.1.2", "", True),
        ("hasmoved", "5.1.6", "", True),
        ("mailboxfull", "5.2.2", "", False),
        ("blocked", "5.7.1", "", False),
        ("suspend", "5.2.1", "", False),
        ("notaccept", "5.1.10", "Null MX", True),
        ("notaccept", "4.4.4", "temporary: no MX", False),
        ("notaccept", "", "", True),
    ],
)
def test_is_hard(reason: str, status: str, diagnostic: str, hard: bool) -> None:
    assert is_hard(reason, status, diagnostic, default_rules()) is hard


def test_classify_record_cleans_codes_and_finds_the_remote_host() -> None:
    d = record(status="", diagnostic="host mx.example.net[192.0.2.5] said: 550-5.1.1 The email account does\n not exist")
    bounce = classify_record(d, default_rules(), "test")
    assert bounce.status == "5.1.1" and bounce.reply_code == 550
    assert bounce.remote_mta == "mx.example.net"
    assert bounce.agent == "test" and bounce.hard


def test_a_reply_code_that_contradicts_the_status_is_dropped() -> None:
    d = record(status="5.1.1", reply_code="421", diagnostic="5.1.1 user unknown")
    assert classify_record(d, default_rules(), "test").reply_code is None


def test_an_invalid_status_is_dropped() -> None:
    d = record(status="9.9.9", diagnostic="whatever")
    assert classify_record(d, default_rules(), "test").status is None
