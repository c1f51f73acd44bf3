"""SMTP facts in text: enhanced status codes, reply codes, commands, permanence."""

from __future__ import annotations

import pytest

from workbench.feedback.smtp import (
    find_command,
    find_reply,
    find_status,
    is_permanent,
    is_status,
    is_temporary,
    prefer_status,
)


@pytest.mark.parametrize(
    ("code", "valid"),
    [("5.1.1", True), ("4.7.650", True), ("2.0.0", True), ("5.1", False), ("6.1.1", False), ("5.8.1", False),
     ("5.1.1 ", False), ("", False), ("x.1.1", False), ("5.1.1000", False)],
)
def test_is_status(code: str, valid: bool) -> None:
    assert is_status(code) is valid


@pytest.mark.parametrize(
    ("text", "klass", "expected"),
    [
        ("550 5.1.1 <a@b>: Recipient address rejected: User unknown", "", "5.1.1"),
        ("421 4.7.28 Gmail has detected an unusual rate", "", "4.7.28"),
        ("451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited", "", "4.7.650"),
        # an IPv4 address is not a status code
        ("Client host [5.1.1.9] blocked using zen.spamhaus.org", "", ""),
        ("from 192.0.2.1 at 5.7.1", "", "5.7.1"),
        # X.0.0 only when nothing better is there
        ("5.0.0 then 5.2.2 mailbox full", "", "5.2.2"),
        ("5.0.0 unknown", "", "5.0.0"),
        ("4.4.7 then 4.2.2", "", "4.2.2"),
        # a class asked for
        ("4.2.2 over quota, later 5.2.2", "5", "5.2.2"),
        ("4.2.2 over quota, later 5.2.2", "4", "4.2.2"),
        # version strings are not codes
        ("Postfix v2.1.3 said 550 5.1.1", "", "5.1.1"),
        ("", "", ""),
        ("no code", "", ""),
    ],
)
def test_find_status(text: str, klass: str, expected: str) -> None:
    assert find_status(text, klass) == expected


@pytest.mark.parametrize(
    ("text", "klass", "expected"),
    [
        ("host mx said: 550 5.1.1 user unknown", "", "550"),
        ("421-4.7.0 try again later", "", "421"),
        ("452 4.2.2 over quota", "4", "452"),
        ("552 5.2.2 mailbox full", "5.2.2", "552"),
        ("5500 is not a code, 550 is", "", "550"),
        ("id 4550123", "", ""),
        ("X-Unix; 550 permission denied", "", ""),
        ("250 2.0.0 Ok: queued", "2", "250"),
        ("", "", ""),
    ],
)
def test_find_reply(text: str, klass: str, expected: str) -> None:
    assert find_reply(text, klass) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(in reply to RCPT TO command)", "RCPT"),
        ("(in reply to end of DATA command)", "DATA"),
        ("(in reply to MAIL FROM command)", "MAIL"),
        ("SMTP error from remote mail server after RCPT TO:<a@b>:", "RCPT"),
        (">>> DATA\n<<< 554 rejected", "DATA"),
        ("while talking to mx: >>> MAIL From:<a@b> <<< 550 no", "MAIL"),
        ("after STARTTLS", "STARTTLS"),
        ("DATABASE error", ""),
        ("user RCPTION@example.com", ""),
        ("nothing here", ""),
    ],
)
def test_find_command(text: str, expected: str) -> None:
    assert find_command(text) == expected


@pytest.mark.parametrize(
    ("field_value", "in_text", "reply", "expected"),
    [
        ("", "5.1.1", "", "5.1.1"),
        ("5.1.1", "", "", "5.1.1"),
        ("5.0.0", "5.1.1", "", "5.1.1"),
        ("5.1.1", "5.0.0", "", "5.1.1"),
        ("4.7.0", "4.7.28", "", "4.7.28"),
        ("5.3.0", "5.7.1", "", "5.7.1"),
        ("5.5.1", "5.1.1", "", "5.1.1"),
        # the class of the reply code breaks a disagreement
        ("4.2.2", "5.2.2", "552", "5.2.2"),
        ("4.2.2", "5.2.2", "452", "4.2.2"),
        ("5.1.1", "5.1.1", "", "5.1.1"),
        ("5.2.2", "5.7.1", "", "5.2.2"),
    ],
)
def test_prefer_status(field_value: str, in_text: str, reply: str, expected: str) -> None:
    assert prefer_status(field_value, in_text, reply) == expected


@pytest.mark.parametrize(
    ("text", "permanent", "temporary"),
    [
        ("550 5.1.1 user unknown", True, False),
        ("452 4.2.2 over quota", False, True),
        ("This is a permanent error; I've given up", True, False),
        ("the error is temporary, will retry", False, True),
        ("a persistent transient failure", False, True),
        ("no code at all", False, False),
    ],
)
def test_permanent_and_temporary(text: str, permanent: bool, temporary: bool) -> None:
    assert is_permanent(text) is permanent
    assert is_temporary(text) is temporary
