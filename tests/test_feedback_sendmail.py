"""Sendmail bounces: the DSN with its session transcript (Sendmail 8) and the text-only
Sendmail 5 bounce."""

from __future__ import annotations

from conftest import FIXTURES

from workbench.feedback import parse_message

V8_HEAD = ("From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.com>\nTo: <promo@promo.brightmart.example>\n"
           "Subject: Returned mail: see transcript for details\nMIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"s8\"\n\n--s8\n\n")


def v8(transcript: str, fields: str) -> bytes:
    return (V8_HEAD + "The original message was received at Sat, 7 Nov 2026 09:00:00 -0500\n\n"
            "   ----- Transcript of session follows -----\n" + transcript +
            "\n--s8\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; relay.example.com\n\n" + fields +
            "\n--s8\nContent-Type: text/rfc822-headers\n\nFrom: promo@promo.brightmart.example\n"
            "Message-ID: <s8@promo.brightmart.example>\n\n--s8--\n").encode()


def test_the_fixture_reads_command_and_transcript() -> None:
    report = parse_message((FIXTURES / "bounces" / "sendmail-userunknown.eml").read_bytes())
    (b,) = report.bounces
    assert (report.agent, b.recipient, b.reason, b.command, b.remote_mta) == (
        "sendmail", "gone@example.com", "userunknown", "DATA", "mx.example.com")


def test_mailbox_full_at_rcpt() -> None:
    raw = v8("... while talking to mx.example.net.:\n>>> RCPT To:<full@example.net>\n"
             "<<< 552 5.2.2 <full@example.net>... Mailbox full\n552 5.2.2 <full@example.net>... Mailbox full\n",
             "Final-Recipient: RFC822; full@example.net\nAction: failed\nStatus: 5.2.2\n"
             "Remote-MTA: DNS; mx.example.net\nDiagnostic-Code: SMTP; 552 5.2.2 <full@example.net>... Mailbox full\n")
    (b,) = parse_message(raw).bounces
    assert (b.recipient, b.reason, b.hard, b.command, b.status, b.reply_code) == (
        "full@example.net", "mailboxfull", False, "RCPT", "5.2.2", 552)


def test_refused_at_connection_is_blocked() -> None:
    raw = v8("... while talking to mx.example.net.:\n<<< 554 5.7.1 Service unavailable; Client host [198.51.100.20] "
             "blocked using bl.example\n",
             "Final-Recipient: RFC822; a@example.net\nAction: failed\nStatus: 5.7.1\n"
             "Diagnostic-Code: SMTP; 554 5.7.1 Service unavailable; Client host [198.51.100.20] blocked using bl.example\n")
    (b,) = parse_message(raw).bounces
    # no command in the transcript, only the server's greeting: refused at the connection
    assert (b.recipient, b.reason, b.hard, b.command) == ("a@example.net", "blocked", False, "EHLO")


def test_local_program_failure_is_a_mailer_error() -> None:
    raw = v8("\"|/usr/local/bin/procmail\"... Service unavailable\n",
             "Final-Recipient: RFC822; list@relay.example.com\nX-Actual-Recipient: X-Unix; |/usr/local/bin/procmail\n"
             "Action: failed\nStatus: 5.0.0\nDiagnostic-Code: X-Unix; 73\n")
    (b,) = parse_message(raw).bounces
    assert (b.recipient, b.reason) == ("list@relay.example.com", "mailererror")


def test_warning_subject_is_a_delay() -> None:
    raw = v8("<slow@example.com>... Deferred: Connection timed out with mx.example.com.\n",
             "Final-Recipient: RFC822; slow@example.com\nAction: delayed\nStatus: 4.4.1\n").replace(
        b"Subject: Returned mail: see transcript for details", b"Subject: Warning: could not send message for past 4 hours")
    (b,) = parse_message(raw).bounces
    assert (b.action, b.reason, b.hard) == ("delayed", "expired", False)


V5 = """From: MAILER-DAEMON@old.example.edu
To: a@brightmart.example
Subject: Returned mail: User unknown
Date: Mon, 9 Nov 2026 10:00:00 +0000

   ----- Transcript of session follows -----
While talking to mail.old.example.edu:
>>> RCPT To:<ghost@old.example.edu>
<<< 550 <ghost@old.example.edu>... User unknown
550 <ghost@old.example.edu>... User unknown

   ----- Unsent message follows -----
From: a@brightmart.example
To: ghost@old.example.edu
Message-ID: <v5@brightmart.example>

Hello
"""


def test_sendmail_5() -> None:
    report = parse_message(V5.encode())
    assert report.agent == "v5sendmail"
    (b,) = report.bounces
    assert (b.recipient, b.reason, b.hard, b.command, b.remote_mta) == (
        "ghost@old.example.edu", "userunknown", True, "RCPT", "mail.old.example.edu")
    assert report.origin.message_id == "v5@brightmart.example"


def test_sendmail_5_without_a_transcript_uses_the_returned_to() -> None:
    raw = V5.replace("   ----- Transcript of session follows -----\nWhile talking to mail.old.example.edu:\n"
                     ">>> RCPT To:<ghost@old.example.edu>\n<<< 550 <ghost@old.example.edu>... User unknown\n"
                     "550 <ghost@old.example.edu>... User unknown\n", "")
    report = parse_message(raw.encode())
    assert [b.recipient for b in report.bounces] in ([], ["ghost@old.example.edu"])
