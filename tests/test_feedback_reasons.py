"""Reasons from SMTP replies as receivers write them (several languages, several providers):
the generic rule tables, with the status code, reply code and command a send log gives."""

from __future__ import annotations

import pytest

from workbench.feedback.classify import classify_record
from workbench.feedback.model import Delivery
from workbench.feedback.rules import default_rules


@pytest.mark.parametrize(
    ("diagnostic", "status", "reply", "command", "reason", "hard"),
    [
        ('550 5.1.1 <a@example.org>: Recipient address rejected: User unknown in local recipient table', '5.1.1', '550', 'RCPT', 'userunknown', True),
        ('550 Utilisateur inconnu ! / User unknown', '', '550', 'RCPT', 'userunknown', True),
        ('550 Benutzer unbekannt', '', '550', 'RCPT', 'userunknown', True),
        ('550 destinatario inesistente', '', '550', 'RCPT', 'userunknown', True),
        ('550 usuario desconocido', '', '550', 'RCPT', 'userunknown', True),
        ('552 5.2.2 Mailbox full', '5.2.2', '552', 'RCPT', 'mailboxfull', False),
        ('452 4.2.2 The email account that you tried to reach is over quota', '4.2.2', '452', 'RCPT', 'mailboxfull', False),
        ('550 Boite du destinataire pleine', '', '550', 'RCPT', 'mailboxfull', False),
        ('552 Postfach voll', '', '552', 'RCPT', 'mailboxfull', False),
        ('550 5.1.2 Host unknown: no.such.domain.example', '5.1.2', '550', 'RCPT', 'hostunknown', True),
        ('554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', '5.7.1', '554', 'RCPT', 'blocked', False),
        ('550 5.7.1 Message rejected as spam by Content Filtering.', '5.7.1', '550', 'DATA', 'spamdetected', False),
        ('421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints', '4.7.0', '421', 'MAIL', 'badreputation', False),
        ('550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users', '5.7.26', '550', 'DATA', 'authfailure', False),
        ('550 5.7.25 The IP address sending this message does not have a PTR record setup', '5.7.25', '550', 'MAIL', 'requireptr', False),
        ('552 5.3.4 Message size exceeds fixed maximum message size', '5.3.4', '552', 'DATA', 'mesgtoobig', False),
        ('421 4.7.0 Too many concurrent SMTP connections from this IP address; please try again later', '4.7.0', '421', 'CONN', 'toomanyconn', False),
        ('550 5.2.1 The email account that you tried to reach is disabled', '5.2.1', '550', 'RCPT', 'suspend', False),
        ('554 5.7.1 Relay access denied', '5.7.1', '554', 'RCPT', 'norelaying', False),
        ('550 5.7.1 Virus detected: Eicar-Test-Signature', '5.7.1', '550', 'DATA', 'virusdetected', False),
        ('451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation', '4.7.650', '451', 'RCPT', 'badreputation', False),
        ('421 4.4.2 Connection timed out', '4.4.2', '421', '', 'expired', False),
        ('550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', '5.1.10', '550', 'RCPT', 'userunknown', True),
        ('554 5.7.5 Permanent error evaluating DMARC policy', '5.7.5', '554', 'DATA', 'authfailure', False),
        ('550 5.1.6 Recipient addresses in this domain no longer accept mail', '5.1.6', '550', 'RCPT', 'hasmoved', True),
        ('556 5.1.10 Recipient address has null MX', '5.1.10', '556', 'RCPT', 'notaccept', True),
    ],
)
def test_reason_of_a_reply(diagnostic: str, status: str, reply: str, command: str, reason: str, hard: bool) -> None:
    d = Delivery(recipient="x@example.org", status=status, reply_code=reply, diagnostic=diagnostic, spec="SMTP",
                 command=command)
    bounce = classify_record(d, default_rules(), "test")
    assert (bounce.reason, bounce.hard) == (reason, hard)
    assert bounce.rule.split(":", 1)[0] in ("status", "text", "provider", "reply", "command", "mta")


@pytest.mark.parametrize(
    ("diagnostic", "reason"),
    [
        ("550 5.1.1 user unknown", "userunknown"),
        ("552 5.2.2 mailbox full", "mailboxfull"),
    ],
)
def test_the_status_in_the_text_decides_without_a_status_field(diagnostic: str, reason: str) -> None:
    d = Delivery(recipient="x@example.org", diagnostic=diagnostic, spec="SMTP")
    bounce = classify_record(d, default_rules(), "test")
    assert bounce.reason == reason and bounce.status == diagnostic.split()[1]


def test_a_soft_reason_is_never_hard_whatever_the_code() -> None:
    for text in ("550 5.2.2 mailbox full", "554 5.7.1 blocked using zen.spamhaus.org", "550 5.7.26 unauthenticated"):
        d = Delivery(recipient="x@example.org", diagnostic=text, spec="SMTP", reply_code=text[:3])
        assert classify_record(d, default_rules(), "test").hard is False


def test_a_user_unknown_text_after_data_is_filtered_as_sisimai_decides() -> None:
    # a recipient refused only after the message was sent was refused for its content or a
    # filter, not because it does not exist (Sisimai's rule; the RCPT command would make it
    # userunknown)
    after_data = Delivery(recipient="x@example.org", diagnostic="550 no such user here", spec="SMTP", command="DATA")
    at_rcpt = Delivery(recipient="x@example.org", diagnostic="550 no such user here", spec="SMTP", command="RCPT")
    assert classify_record(after_data, default_rules(), "test").reason == "filtered"
    assert classify_record(at_rcpt, default_rules(), "test").reason == "userunknown"
