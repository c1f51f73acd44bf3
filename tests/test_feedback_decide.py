"""The decision order (Sisimai's): status codes, texts, the SMTP command and the action,
each decision naming its rule, on records as the decoders hand them over."""

from __future__ import annotations

import pytest

from workbench.feedback.classify import classify_record
from workbench.feedback.decide import RETRIED, explicit
from workbench.feedback.model import Delivery
from workbench.feedback.rules import default_rules


@pytest.mark.parametrize(
    ("diagnostic", "status", "reply", "command", "action", "spec", "reason", "rule"),
    [
        pytest.param('552 5.3.4 Message too big for system', '5.3.4', '552', 'DATA', 'failed', 'SMTP',
                     'mesgtoobig', 'status:5.3.4', id='mesgtoobig-5.3.4'),
        pytest.param('552 5.2.3 Message exceeds maximum message size', '5.2.3', '552', 'DATA', 'failed', 'SMTP',
                     'exceedlimit', 'status:5.2.3', id='exceedlimit-5.2.3'),
        pytest.param('550 5.2.1 Mailbox disabled, not accepting messages', '5.2.1', '550', 'RCPT', 'failed', 'SMTP',
                     'suspend', 'text:suspend "mailbox disabled"', id='suspend-5.2.1'),
        pytest.param('550 5.1.1 user unknown', '5.1.1', '550', 'DATA', 'failed', 'SMTP',
                     'userunknown', 'status:5.1.1', id='userunknown-5.1.1'),
        pytest.param('550 5.7.1 Relaying denied', '5.7.1', '550', 'RCPT', 'failed', 'SMTP',
                     'norelaying', 'text:norelaying "relaying denied"', id='norelaying-5.7.1'),
        pytest.param('553 5.1.8 Sender address domain does not exist', '5.1.8', '553', 'MAIL', 'failed', 'SMTP',
                     'rejected', 'status:5.1.8', id='rejected-5.1.8'),
        pytest.param('550 5.7.1 Client host rejected: cannot find your reverse hostname', '5.7.1', '550', 'RCPT', 'failed', 'SMTP',
                     'requireptr', 'text:requireptr "cannot find your reverse hostname"', id='requireptr-5.7.1'),
        pytest.param('554 5.6.0 Message contains invalid header', '5.6.0', '554', 'DATA', 'failed', 'SMTP',
                     'contenterror', 'status:5.6.0', id='contenterror-5.6.0'),
        pytest.param('421 4.7.0 Try again later, closing connection. (EHLO)', '4.7.0', '421', 'EHLO', 'delayed', 'SMTP',
                     'securityerror', 'status:4.7.0 (class)', id='securityerror-4.7.0'),
        pytest.param('501 5.5.4 Syntax error in parameters', '5.5.4', '501', 'MAIL', 'failed', 'SMTP',
                     'systemerror', 'status:5.5.4', id='systemerror-5.5.4'),
        pytest.param('550 5.4.1 Recipient address rejected: Access denied', '5.4.1', '550', 'RCPT', 'failed', 'SMTP',
                     'userunknown', 'text:userunknown "recipient address rejected: access denied"', id='userunknown-5.4.1'),
        pytest.param('', '4.4.7', '', '', 'delayed', 'SMTP',
                     'expired', 'status:4.4.7', id='expired-4.4.7'),
        pytest.param('', '', '', '', 'delayed', '',
                     'expired', 'action:delayed', id='expired-delayed'),
        pytest.param('554 5.7.9 Message not accepted for policy reasons', '5.7.9', '554', 'DATA', 'failed', 'SMTP',
                     'policyviolation', 'text:policyviolation "message not accepted for policy reasons"', id='policyviolation-5.7.9'),
        pytest.param('550 5.7.515 Access denied, sending domain does not meet the required authentication level', '5.7.515', '550', 'DATA', 'failed', 'SMTP',
                     'authfailure', 'text:authfailure "does not meet the required authentication level"', id='authfailure-5.7.515'),
        pytest.param('454 4.7.0 TLS not available due to local problem', '4.7.0', '454', 'STARTTLS', 'delayed', 'SMTP',
                     'failedstarttls', 'text:failedstarttls "tls not available due to local problem"', id='failedstarttls-4.7.0'),
        pytest.param('550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail', '5.7.1', '550', 'DATA', 'failed', 'SMTP',
                     'securityerror', 'status:5.7.1', id='securityerror-5.7.1'),
    ],
)
def test_decision(diagnostic: str, status: str, reply: str, command: str, action: str, spec: str, reason: str,
                  rule: str) -> None:
    d = Delivery(recipient="x@example.org", status=status, reply_code=reply, diagnostic=diagnostic, spec=spec,
                 command=command, action=action)
    bounce = classify_record(d, default_rules(), "test")
    assert (bounce.reason, bounce.rule) == (reason, rule)


@pytest.mark.parametrize(("reason", "final"), [("userunknown", True), ("onhold", False), ("undefined", False), ("", False),
                                               ("mailboxfull", True)])
def test_explicit(reason: str, final: bool) -> None:
    assert explicit(reason) is final


def test_retried_reasons_are_refined_by_the_generic_rules() -> None:
    # a decoder's guess that deserves a second look gives way to a clearer status
    d = Delivery(recipient="x@example.org", status="5.2.2", diagnostic="552 5.2.2 mailbox full", spec="SMTP",
                 reason="systemerror", rule="mta:x guess")
    assert "systemerror" in RETRIED
    assert classify_record(d, default_rules(), "test").reason == "mailboxfull"
    final = Delivery(recipient="x@example.org", status="5.2.2", diagnostic="552 5.2.2 mailbox full", spec="SMTP",
                     reason="suspend", rule="mta:x account suspended")
    assert classify_record(final, default_rules(), "test").rule == "mta:x account suspended"


def test_the_delivery_status_class_two_is_delivered() -> None:
    d = Delivery(recipient="x@example.org", status="2.0.0", diagnostic="250 2.0.0 OK", spec="SMTP")
    bounce = classify_record(d, default_rules(), "test")
    assert (bounce.reason, bounce.action, bounce.hard) == ("delivered", "delivered", False)
