"""The MTA decoders on hand-written bounces in each MTA's shape (a clone without the shared
corpus still tests every decoder family): which decoder reads it, the recipient, the
reason, hard / soft, the codes and the SMTP command."""

from __future__ import annotations

import pytest

from workbench.feedback import parse_message
from workbench.feedback.decoders import order_for
from workbench.feedback.textscan import load_specs

QMAIL_RCPT = """From: MAILER-DAEMON@mx.example.net
To: newsletter@news.brightmart.example
Subject: failure notice
Date: Mon, 2 Nov 2026 10:00:00 +0000

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@example.org>:
Connected to 192.0.2.25 but sender was rejected.
Remote host said: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)

--- Below this line is a copy of the message.

From: newsletter@news.brightmart.example
Message-ID: <q1@news.brightmart.example>

Hello
"""

QMAIL_MAILBOXFULL = """From: MAILER-DAEMON@mx.example.net
To: newsletter@news.brightmart.example
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<full@example.net>:
The users mailfolder is over the allowed quota (size). (#5.2.2)

--- Below this line is a copy of the message.

From: newsletter@news.brightmart.example
"""

EXIM_RCPT = """From: Mail Delivery System <Mailer-Daemon@mx.brightmart.example>
To: tx@tx.brightmart.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: ghost@example.com
Date: Tue, 3 Nov 2026 10:00:00 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  ghost@example.com
    host mx.example.com [192.0.2.30]
    SMTP error from remote mail server after RCPT TO:<ghost@example.com>:
    550 5.1.1 <ghost@example.com>: Recipient address rejected: User unknown in virtual mailbox table

------ This is a copy of the message, including all the headers. ------

From: tx@tx.brightmart.example
Message-ID: <e1@tx.brightmart.example>
"""

EXIM_QUOTA = """From: Mail Delivery System <Mailer-Daemon@mx.brightmart.example>
To: tx@tx.brightmart.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: full@example.com

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  full@example.com
    mailbox is full: retry timeout exceeded

------ This is a copy of the message, including all the headers. ------

From: tx@tx.brightmart.example
"""

DRAGONFLY = """From: MAILER-DAEMON@df.example.org
To: a@brightmart.example
Subject: Mail delivery failed
Received: from localhost by df.example.org (DragonFly Mail Agent v0.13); Wed, 4 Nov 2026 10:00:00 +0000

This is the DragonFly Mail Agent v0.13 at df.example.org.

There was an error delivering your mail to <nouser@example.org>.

mx.example.org [192.0.2.40] did not like our RCPT TO:
550 5.1.1 <nouser@example.org>: Recipient address rejected: User unknown

Original message follows.

From: a@brightmart.example
"""

OPENSMTPD = """From: Mailer Daemon <MAILER-DAEMON@smtpd.example.org>
To: a@brightmart.example
Subject: Delivery status notification: error

Hi!

    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.

    An error has occurred while attempting to deliver a message for
    the following list of recipients:

nouser@example.org: 550 5.1.1 <nouser@example.org>... User Unknown

    Below is a copy of the original message:

From: a@brightmart.example
"""

GMAIL_TEXT = """From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: a@brightmart.example
Subject: Delivery Status Notification (Failure)

Delivery to the following recipient failed permanently:

     nouser@example.org

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient domain example.org by mx.example.org. [192.0.2.50].

The error that the other server returned was:
550 5.1.1 <nouser@example.org>: Recipient address rejected: User unknown (state 14).

----- Original message -----

From: a@brightmart.example
"""

GMX = """From: "Mail Delivery System" <mailer-daemon@gmx.net>
To: a@brightmart.example
Subject: Mail delivery failed: returning message to sender
X-GMX-Antispam: 0

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address
failed:

"nouser@gmx.de":
SMTP error from remote server after RCPT command:
host: mx.gmx.net
5.1.1 <nouser@gmx.de>: Mailbox disabled, not accepting messages

--- The header of the original message is following. ---

From: a@brightmart.example
"""

EINSUNDEINS = """From: "Mail Delivery System" <mailer-daemon@kundenserver.de>
To: a@brightmart.example
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address
failed:

nouser@example.de:
SMTP error from remote server for RCPT TO command, host: mx00.example.de
reason: 550 Requested action not taken: mailbox unavailable

--- The header of the original message is following. ---

From: a@brightmart.example
"""

EXCHANGE2003 = """From: System Administrator <postmaster@corp.example.com>
To: a@brightmart.example
Subject: Undeliverable: Hello
X-MS-Embedded-Report: 1
Content-Type: multipart/mixed; boundary="ex"

--ex
Content-Type: text/plain

Your message

  Subject: Hello

did not reach the following recipient(s):

nouser@corp.example.com on Thu, 5 Nov 2026 10:00:00 +0000
    The e-mail account does not exist at the organization this message was sent to.
    <corp.example.com #5.1.1 SMTP; 550 5.1.1 User unknown> MSEXCH:IMS:Corp:Site:SRV01 0 (000C05A6) Unknown Recipient

--ex
Content-Type: message/rfc822

From: a@brightmart.example

hi
--ex--
"""

NOTES = """From: Postmaster <postmaster@notes.example.com>
To: a@brightmart.example
Subject: Undeliverable message

------- Failure Reasons --------

User not listed in public Name & Address Book
nouser@notes.example.com

------- Returned Message --------
From: a@brightmart.example
To: nouser@notes.example.com
"""

MAILFOUNDRY = """From: MAILER-DAEMON@mf.example.com
To: a@brightmart.example
Subject: Message delivery has failed
Content-Type: multipart/mixed; boundary="mf"

--mf
Content-Type: text/plain

Unable to deliver message to: <full@mf.example.com>
Delivery failed for the following reason:
Server mx.mf.example.com[192.0.2.60] failed with: 552 5.2.2 mailbox full

--mf
Content-Type: message/rfc822

From: a@brightmart.example
--mf--
"""

APACHEJAMES = """From: postmaster@james.example.com
To: a@brightmart.example
Subject: [BOUNCE]
Message-ID: <1.JavaMail.james@james.example.com>
Content-Type: multipart/mixed; boundary="aj"

--aj
Content-Type: text/plain

Hi. This is the James mail server at james.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.  Below
I include the list of recipients and the reason why I was unable to deliver
your message.

Original email:

Message details:
  Subject: Hello
  MAIL FROM: a@brightmart.example
  RCPT TO: nouser@james.example.com
  From: a@brightmart.example
  To: nouser@james.example.com
  Size (in bytes): 1024

Error message below:
550 - Requested action not taken: no such user here

--aj
Content-Type: message/rfc822

From: a@brightmart.example
--aj--
"""

X2 = """From: MAILER-DAEMON@x2.example.com
To: a@brightmart.example
Subject: Delivery failure

Unable to deliver message to the following address(es).

<nouser@x2.example.com>:
550 5.1.1 no such user

--- Original message follows.

From: a@brightmart.example
"""

VERIZON = """From: post_master@vtext.com
To: a@brightmart.example
Subject: Undeliverable Message

Error: 550 5.1.1 Invalid recipient: 5551234567@vtext.com

Message details:
  Subject: Hello
  Sent date: Fri, 6 Nov 2026 10:00:00 +0000
  MAIL FROM: a@brightmart.example
  RCPT TO: 5551234567@vtext.com
  From: a@brightmart.example
  To: 5551234567@vtext.com
  Size (in bytes): 1024
  Number of lines: 10

Original Message:
From: a@brightmart.example
"""

SENDMAIL_WARNING = """From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.com>
To: a@brightmart.example
Subject: Warning: could not send message for past 4 hours
Auto-Submitted: auto-generated (warning-timeout)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="sw"

--sw

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Sat, 7 Nov 2026 06:00:00 +0000
from mta.brightmart.example [198.51.100.20]

   ----- Transcript of session follows -----
<slow@example.com>... Deferred: Connection timed out with mx.example.com.
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old

--sw
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.com

Final-Recipient: RFC822; slow@example.com
Action: delayed
Status: 4.4.1
Remote-MTA: DNS; mx.example.com
Last-Attempt-Date: Sat, 7 Nov 2026 10:00:00 +0000
Will-Retry-Until: Thu, 12 Nov 2026 06:00:00 +0000

--sw--
"""

POSTFIX_ALIAS = """From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: a@brightmart.example
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="pa"

--pa
Content-Type: text/plain

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<real.user@example.org> (expanded from <alias@example.org>): host
    mailstore.example.org[192.0.2.70] said: 552 5.2.2 Over quota (in reply to
    RCPT TO command)

--pa
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; real.user@example.org
Original-Recipient: rfc822; alias@example.org
Action: failed
Status: 5.2.2
Remote-MTA: dns; mailstore.example.org
Diagnostic-Code: smtp; 552 5.2.2 Over quota

--pa--
"""

POSTFIX_UNAVAILABLE = """From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: a@brightmart.example
Subject: Undelivered Mail Returned to Sender

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<gone@example.org>: host mailstore.example.org[192.0.2.70] said: 550 5.1.1
    <gone@example.org>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)

--- Delivery report unavailable ---
"""

SES_JSON_BOUNCE = """From: AWS Notifications <no-reply@sns.amazonaws.com>
To: deliverability@brightmart.example
Subject: AWS Notification Message
Content-Type: text/plain

{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"gone@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-11-08T10:00:00.000Z","feedbackId":"0100-abc","remoteMtaIp":"192.0.2.80","reportingMTA":"dsn; a1-2.smtp-out.amazonses.com"},"mail":{"timestamp":"2026-11-08T09:59:59.000Z","source":"alerts@notify.brightmart.example","sourceIp":"198.51.100.30","messageId":"0102-xyz","destination":["gone@example.com"],"headers":[{"name":"Message-ID","value":"<a1@notify.brightmart.example>"}]}}

--
If you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe.
"""

SES_JSON_TRANSIENT = """From: AWS Notifications <no-reply@sns.amazonaws.com>
To: deliverability@brightmart.example
Subject: AWS Notification Message
Content-Type: text/plain

{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","bouncedRecipients":[{"emailAddress":"gone@example.com","action":"failed","status":"5.2.2","diagnosticCode":"smtp; 552 5.2.2 mailbox full"}],"timestamp":"2026-11-08T10:00:00.000Z","feedbackId":"0100-abc","remoteMtaIp":"192.0.2.80","reportingMTA":"dsn; a1-2.smtp-out.amazonses.com"},"mail":{"timestamp":"2026-11-08T09:59:59.000Z","source":"alerts@notify.brightmart.example","sourceIp":"198.51.100.30","messageId":"0102-xyz","destination":["gone@example.com"],"headers":[{"name":"Message-ID","value":"<a1@notify.brightmart.example>"}]}}

--
If you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe.
"""

GOOGLEGROUPS = """From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: a@brightmart.example
Subject: Delivery Status Notification (Failure)
X-Failed-Recipients: news@googlegroups.com
X-Google-Smtp-Source: abc

Hello a@brightmart.example,

We're writing to let you know that the group you tried to contact (news) may not exist, or you may not have permission to post messages to the group. A few more details on why you weren't able to post:

 * You might have spelled or formatted the group name incorrectly.
 * The owner of the group may have removed this group.
 * You may need to join the group before receiving permission to post.
 * This group may not be open to posting.

If you have questions related to this or any other Google Group, visit the Help Center at https://groups.google.com/support/.

Thanks,

Google Groups

----- Original message -----

From: a@brightmart.example
"""


CASES = [
    pytest.param(QMAIL_RCPT, "qmail", "nobody@example.org", "rejected", False, '5.7.1', 553, 'MAIL', id="qmail-rcpt"),
    pytest.param(QMAIL_MAILBOXFULL, "qmail", "full@example.net", "mailboxfull", False, '5.2.2', None, None, id="qmail-mailboxfull"),
    pytest.param(EXIM_RCPT, "exim", "ghost@example.com", "userunknown", True, '5.1.1', 550, 'RCPT', id="exim-rcpt"),
    pytest.param(EXIM_QUOTA, "exim", "full@example.com", "mailboxfull", False, None, None, None, id="exim-quota"),
    pytest.param(DRAGONFLY, "dragonfly", "nouser@example.org", "userunknown", True, '5.1.1', 550, 'RCPT', id="dragonfly"),
    pytest.param(OPENSMTPD, "opensmtpd", "nouser@example.org", "userunknown", True, '5.1.1', 550, None, id="opensmtpd"),
    pytest.param(GMAIL_TEXT, "gmail", "nouser@example.org", "userunknown", True, '5.1.1', 550, 'RCPT', id="gmail-text"),
    pytest.param(GMX, "gmx", "nouser@gmx.de", "suspend", False, '5.1.1', None, 'RCPT', id="gmx"),
    pytest.param(EINSUNDEINS, "einsundeins", "nouser@example.de", "userunknown", True, None, 550, 'RCPT', id="einsundeins"),
    pytest.param(EXCHANGE2003, "exchange2003", "nouser@corp.example.com", "userunknown", True, '5.1.1', 550, None, id="exchange2003"),
    pytest.param(NOTES, "notes", "nouser@notes.example.com", "userunknown", True, None, None, None, id="notes"),
    pytest.param(MAILFOUNDRY, "mailfoundry", "full@mf.example.com", "mailboxfull", False, '5.2.2', 552, None, id="mailfoundry"),
    pytest.param(APACHEJAMES, "apachejames", "nouser@james.example.com", "filtered", False, None, 550, None, id="apachejames"),
    pytest.param(X2, "x2", "nouser@x2.example.com", "userunknown", True, '5.1.1', 550, None, id="x2"),
    pytest.param(VERIZON, "verizon", "5551234567@vtext.com", "userunknown", True, '5.1.1', 550, None, id="verizon"),
    pytest.param(SENDMAIL_WARNING, "sendmail", "slow@example.com", "expired", False, '4.4.1', None, None, id="sendmail-warning"),
    pytest.param(POSTFIX_ALIAS, "postfix", "real.user@example.org", "mailboxfull", False, '5.2.2', 552, 'RCPT', id="postfix-alias"),
    pytest.param(POSTFIX_UNAVAILABLE, "postfix", "gone@example.org", "userunknown", True, '5.1.1', 550, 'RCPT', id="postfix-unavailable"),
    pytest.param(SES_JSON_BOUNCE, "amazonses", "gone@example.com", "userunknown", True, '5.1.1', 550, None, id="ses-json-bounce"),
    pytest.param(SES_JSON_TRANSIENT, "amazonses", "gone@example.com", "mailboxfull", False, '5.2.2', 552, None, id="ses-json-transient"),
    pytest.param(GOOGLEGROUPS, "googlegroups", "news@googlegroups.com", "rejected", False, None, None, None, id="googlegroups"),
]


@pytest.mark.parametrize(("raw", "agent", "recipient", "reason", "hard", "status", "reply", "command"), CASES)
def test_decoder(raw: str, agent: str, recipient: str, reason: str, hard: bool, status: str | None, reply: int | None,
                 command: str | None) -> None:
    report = parse_message(raw.encode())
    assert report.kind == "bounce" and report.agent == agent
    (b,) = report.bounces
    assert (b.recipient, b.reason, b.hard, b.status, b.reply_code, b.command) == (recipient, reason, hard, status, reply,
                                                                                  command)
    assert b.rule and b.diagnostic


@pytest.mark.parametrize("raw", [c.values[0] for c in CASES])
def test_crlf_line_ends_give_the_same_result(raw: str) -> None:
    lf = parse_message(raw.encode())
    crlf = parse_message(raw.replace("\n", "\r\n").encode())
    assert [(b.recipient, b.reason, b.hard) for b in crlf.bounces] == [(b.recipient, b.reason, b.hard) for b in lf.bounces]


def test_qmail_names_the_command_and_the_remote_host() -> None:
    (b,) = parse_message(QMAIL_RCPT.encode()).bounces
    assert b.command == "MAIL" and "badmailfrom" in (b.diagnostic or "")


def test_postfix_alias_and_missing_report() -> None:
    (b,) = parse_message(POSTFIX_ALIAS.encode()).bounces
    assert b.alias == "alias@example.org" and b.remote_mta == "mailstore.example.org"
    (b,) = parse_message(POSTFIX_UNAVAILABLE.encode()).bounces
    assert "User unknown in local recipient table" in (b.diagnostic or "")


def test_a_warning_is_a_delay_not_a_failure() -> None:
    (b,) = parse_message(SENDMAIL_WARNING.encode()).bounces
    assert b.action == "delayed" and not b.hard


def test_ses_notifications_keep_their_origin() -> None:
    report = parse_message(SES_JSON_BOUNCE.encode())
    assert report.origin.message_id == "a1@notify.brightmart.example"
    (b,) = report.bounces
    assert b.remote_mta == "192.0.2.80" or b.reporting_mta


def test_exchange_code_table_decides() -> None:
    (b,) = parse_message(EXCHANGE2003.encode()).bounces
    assert b.rule == "mta:exchange2003 code 000C05A6"


def test_a_returned_message_id_is_found_in_text_bounces() -> None:
    assert parse_message(QMAIL_RCPT.encode()).origin.message_id == "q1@news.brightmart.example"
    assert parse_message(EXIM_RCPT.encode()).origin.message_id == "e1@tx.brightmart.example"


def test_text_decoder_specs_load_and_are_well_formed() -> None:
    specs = load_specs()
    assert {"qmail", "gmail", "dragonfly", "opensmtpd", "gmx", "exchange2003", "notes", "verizon"} <= set(specs)
    for name, spec in specs.items():
        assert spec.detect, name
        assert spec.recipient, name
        assert all(pattern.groupindex.get("addr") for pattern in spec.recipient), name


@pytest.mark.parametrize(
    ("subject", "first"),
    [
        ("Undelivered Mail Returned to Sender", "postfix"),
        ("failure notice", "qmail"),
        ("Mail delivery failed: returning message to sender", "exim"),
        ("Returned mail: see transcript for details", "sendmail"),
    ],
)
def test_decoders_are_tried_by_subject_first(subject: str, first: str) -> None:
    order = order_for(subject)
    assert first in order[:4]
    assert len(order) == len(set(order))


def test_unknown_subjects_still_try_every_decoder() -> None:
    assert set(order_for("something else entirely")) >= {"postfix", "exim", "qmail", "sendmail", "gmail", "amazonses"}
