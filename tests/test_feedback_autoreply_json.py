"""Auto-replies (RFC 3834: never bounces) and Amazon SES notifications mailed as JSON."""

from __future__ import annotations

import json

import pytest

from workbench.feedback import parse_message


def reply(subject: str = "Re: Your November picks", sender: str = "Ines <ines@example.com>", **headers: str) -> bytes:
    head = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items())
    return (f"From: {sender}\nTo: newsletter@news.brightmart.example\nSubject: {subject}\n{head}"
            "Content-Type: text/plain\n\nI am away until Monday.\n").encode()


@pytest.mark.parametrize(
    ("subject", "headers"),
    [
        ("Re: hello", {"Auto_Submitted": "auto-replied"}),
        ("Re: hello", {"X_Autoreply": "yes"}),
        ("Re: hello", {"X_Autorespond": "vacation"}),
        ("Re: hello", {"Precedence": "auto_reply"}),
        ("Automatic reply: hello", {}),
        ("Out of Office: hello", {}),
        ("Abwesenheit: hello", {}),
        ("Réponse automatique : hello", {}),
        ("Auto: hello", {}),
    ],
)
def test_auto_replies_are_vacation_and_not_bounces(subject: str, headers: dict[str, str]) -> None:
    report = parse_message(reply(subject, **headers))
    assert report.kind == "autoreply" and report.agent == "rfc3834"
    (b,) = report.bounces
    assert (b.recipient, b.reason, b.hard, b.rule) == ("ines@example.com", "vacation", False, "rfc3834:auto-reply")
    assert b.diagnostic == "I am away until Monday."


@pytest.mark.parametrize(
    ("subject", "sender", "headers"),
    [
        ("Re: hello", "Ines <ines@example.com>", {}),  # a person's reply
        ("Re: hello", "Ines <ines@example.com>", {"Auto_Submitted": "auto-generated"}),  # a notification
        ("Automatic reply: hello", "MAILER-DAEMON@mx.example.com", {}),  # a daemon
        ("Undeliverable: hello", "postmaster@example.com", {"Auto_Submitted": "auto-replied"}),  # a bounce
        ("Automatic reply: hello", "Ines <ines@example.com>", {"X_Apple_Unsubscribe": "false"}),
    ],
)
def test_other_mail_is_not_an_auto_reply(subject: str, sender: str, headers: dict[str, str]) -> None:
    report = parse_message(reply(subject, sender, **headers))
    assert report.kind != "autoreply"


def test_an_auto_reply_without_a_sender_address_is_nothing() -> None:
    assert parse_message(reply("Automatic reply: x", sender="Undisclosed")).kind == "none"


# --- Amazon SES notifications by mail ------------------------------------------------------------------

def sns(doc: dict[str, object], wrap: bool = False, footer: bool = True) -> bytes:
    text = json.dumps(doc)
    if wrap:  # SNS e-mail breaks long lines with "!" + newline + space
        text = "!\n ".join(text[i:i + 70] for i in range(0, len(text), 70))
    tail = "\n\n--\nIf you wish to stop receiving notifications from this topic, click {here}.\n" if footer else ""
    return ("From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@brightmart.example\n"
            "Subject: AWS Notification Message\nContent-Type: text/plain\n\n" + text + tail).encode()


MAIL = {"source": "alerts@notify.brightmart.example", "messageId": "0102-abc", "sourceIp": "198.51.100.30",
        "headers": [{"name": "Message-ID", "value": "<n1@notify.brightmart.example>"}]}


def bounce(subtype: str, kind: str = "Permanent", recipients: int = 1) -> dict[str, object]:
    return {"notificationType": "Bounce", "mail": MAIL, "bounce": {
        "bounceType": kind, "bounceSubType": subtype, "reportingMTA": "dsn; a1.smtp-out.amazonses.com",
        "bouncedRecipients": [{"emailAddress": f"r{n}@example.com", "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"} for n in range(recipients)]}}


@pytest.mark.parametrize(
    ("subtype", "reason"),
    [("General", "userunknown"), ("NoEmail", "userunknown"), ("Suppressed", "suppressed"),
     ("OnAccountSuppressionList", "suppressed"), ("MailboxFull", "mailboxfull"), ("MessageTooLarge", "mesgtoobig"),
     ("ContentRejected", "contenterror")],
)
def test_ses_bounce_subtypes(subtype: str, reason: str) -> None:
    report = parse_message(sns(bounce(subtype)))
    assert report.agent == "amazonses"
    (b,) = report.bounces
    assert b.reason == reason
    assert b.reporting_mta == "a1.smtp-out.amazonses.com"


def test_ses_several_recipients_wrapped_lines_and_no_footer() -> None:
    report = parse_message(sns(bounce("General", recipients=3), wrap=True, footer=False))
    assert [b.recipient for b in report.bounces] == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert report.origin.message_id == "n1@notify.brightmart.example"


def test_ses_complaint_with_several_recipients() -> None:
    doc = {"notificationType": "Complaint", "mail": MAIL, "complaint": {
        "complainedRecipients": [{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"}],
        "complaintFeedbackType": "abuse", "userAgent": "Comcast Feedback Loop (V0.01)"}}
    report = parse_message(sns(doc))
    assert report.kind == "complaint"
    assert [(c.recipient, c.feedback_type) for c in report.complaints] == [("a@example.com", "abuse"), ("b@example.com", "abuse")]


def test_ses_delivery_notification_is_a_delivery() -> None:
    doc = {"notificationType": "Delivery", "mail": MAIL, "delivery": {
        "recipients": ["ok@example.com"], "smtpResponse": "250 2.0.0 OK 1700000000 abc - gsmtp",
        "reportingMTA": "a1.smtp-out.amazonses.com"}}
    report = parse_message(sns(doc))
    assert report.kind == "delivery"
    assert [(b.recipient, b.reason, b.status) for b in report.bounces] == [("ok@example.com", "delivered", "2.0.0")]


@pytest.mark.parametrize(
    "body",
    ['{"notificationType": "Bounce", "bounce": ', "not json at all {", '{"something": "else"}', "[1, 2, 3]"],
)
def test_broken_or_foreign_json_is_not_a_notification(body: str) -> None:
    raw = ("From: AWS Notifications <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n\n" + body).encode()
    assert parse_message(raw).kind == "none"
