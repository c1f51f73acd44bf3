"""The data-driven text decoder engine (``mtas.yaml`` ``decoders``): each option on a small
spec of its own, so that a user who declares an MTA knows what each key does."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.feedback.mime import read_mail
from workbench.feedback.textscan import detect, scan, spec_of

BASIC: dict[str, Any] = {
    "detect": [{"subject": ["Delivery failed"]}],
    "start": ["The following recipients failed:"],
    "original": ["--- original message ---"],
    "recipient": [r"^\* (?P<addr>\S+@\S+)(?: (?P<diag>.*))?$"],
}


def mail(body: str, subject: str = "Delivery failed", **headers: str) -> Any:
    head = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items())
    return read_mail(f"From: daemon@mx.example.net\nSubject: {subject}\n{head}\n{body}".encode())


def decode(spec: dict[str, Any], body: str, **kw: str) -> list[tuple[str, str]]:
    found = scan(spec_of("test", spec), mail(body, **kw))
    return [(d.recipient, d.diagnostic) for d in found[0]] if found else []


def test_detect_groups_any_of_all_of() -> None:
    spec = spec_of("t", {"detect": [{"subject": ["Delivery failed"], "from": ["daemon@"]}, {"header": ["x-mta-id"]}],
                         "recipient": ["(?P<addr>x@y)"]})
    assert detect(spec, mail("", subject="Delivery failed"))
    assert not detect(spec, mail("", subject="Other"))
    assert detect(spec, mail("", subject="Other", X_MTA_ID="1"))


def test_detect_regex_and_votes() -> None:
    spec = spec_of("t", {"detect": [{"votes": 2, "subject": ["re:^Mail System Error"], "body": ["EZweb"],
                                     "received": ["ezweb.ne.jp"]}], "recipient": ["(?P<addr>x@y)"]})
    assert detect(spec, mail("sent via EZweb", subject="Mail System Error - Returned Mail"))
    assert not detect(spec, mail("nothing", subject="Mail System Error - Returned Mail"))


def test_records_start_after_the_start_line_and_stop_at_the_original() -> None:
    body = ("* early@example.com ignored before the start\nThe following recipients failed:\n"
            "* one@example.com 550 no such user\n  more words\n* two@example.com 552 mailbox full\n"
            "--- original message ---\n* three@example.com\n")
    assert decode(BASIC, body) == [("one@example.com", "550 no such user more words"),
                                   ("two@example.com", "552 mailbox full")]


def test_include_start_reads_the_start_line_as_a_record() -> None:
    spec = {**BASIC, "start": ["* first@"], "include_start": True}
    assert [r for r, _ in decode(spec, "* first@example.com 550 x\n")] == ["first@example.com"]
    assert decode({**BASIC, "start": ["* first@"]}, "* first@example.com 550 x\n") == []


def test_stop_and_skip() -> None:
    spec = {**BASIC, "stop": ["-- end --"], "skip": ["noise", "re:^#"]}
    body = "The following recipients failed:\n* a@example.com\nnoise line\n# comment\nreal text\n-- end --\nafter\n"
    assert decode(spec, body) == [("a@example.com", "real text")]


def test_preamble_joins_the_first_record() -> None:
    spec = {**BASIC, "start": [], "preamble": True}
    assert decode(spec, "Your message could not be delivered.\n* a@example.com\n") == [
        ("a@example.com", "Your message could not be delivered.")]


def test_append_false_keeps_only_the_recipient_line() -> None:
    spec = {**BASIC, "append": False}
    assert decode(spec, "The following recipients failed:\n* a@example.com 550 x\nnot appended\n") == [
        ("a@example.com", "550 x")]


def test_keep_appends_only_lines_with_a_prefix() -> None:
    spec = {**BASIC, "keep": ["SMTP:"]}
    body = "The following recipients failed:\n* a@example.com\nSMTP: 550 5.1.1 unknown\nRouting: ignored\n"
    assert decode(spec, body) == [("a@example.com", "SMTP: 550 5.1.1 unknown")]


def test_shared_text_is_given_to_every_record() -> None:
    spec = {**BASIC, "start": [], "shared": ["Body of message generated response:"]}
    body = "* a@example.com\n* b@example.com\nBody of message generated response:\n550 relay denied\n"
    assert [d for _, d in decode(spec, body)] == ["Body of message generated response: 550 relay denied"] * 2


def test_skip_8bit_lines() -> None:
    spec = {**BASIC, "skip_8bit": True}
    assert decode(spec, "The following recipients failed:\n* a@example.com\n送信できませんでした\nkept\n") == [
        ("a@example.com", "kept")]


def test_fallbacks_for_the_recipient() -> None:
    spec = {**BASIC, "fallback_recipient": ["x-failed-recipients"]}
    found = scan(spec_of("t", spec), mail("The following recipients failed:\nno address here\n",
                                          X_Failed_Recipients="a@example.com, b@example.com"))
    assert found is not None and [d.recipient for d in found[0]] == ["a@example.com", "b@example.com"]
    spec = {**BASIC, "fallback_original_to": True}
    found = scan(spec_of("t", spec), mail("nothing\n--- original message ---\nTo: c@example.com\n"))
    assert found is not None and [d.recipient for d in found[0]] == ["c@example.com"]
    assert scan(spec_of("t", BASIC), mail("nothing at all\n")) is None


def test_commands_rhost_and_command_reasons() -> None:
    spec = {**BASIC, "commands": {"EHLO": ["my name was rejected"]}, "command_reasons": {"EHLO": "blocked"},
            "rhost": [r"Connected to (?P<host>\S+) "]}
    found = scan(spec_of("t", spec), mail("The following recipients failed:\n* a@example.com Connected to "
                                          "mx.example.com but my name was rejected.\n"))
    assert found is not None
    (d,) = found[0]
    assert (d.command, d.remote_mta, d.reason, d.rule) == ("EHLO", "mx.example.com", "blocked", "mta:t EHLO refused")


def test_a_fixed_command_and_a_command_in_the_text() -> None:
    (d,) = scan(spec_of("t", {**BASIC, "command": "DATA"}), mail("The following recipients failed:\n* a@example.com x\n"))[0]  # type: ignore[index]
    assert d.command == "DATA"
    (d,) = scan(spec_of("t", BASIC), mail("The following recipients failed:\n* a@example.com after RCPT TO: 550\n"))[0]  # type: ignore[index]
    assert d.command == "RCPT"


def test_code_tables() -> None:
    spec = {**BASIC, "codes": {"regex": r"\(state (\d+)\)", "table": {"14": ["RCPT", "userunknown"]}}}
    (d,) = scan(spec_of("t", spec), mail("The following recipients failed:\n* a@example.com 550 (state 14)\n"))[0]  # type: ignore[index]
    assert (d.command, d.reason, d.rule) == ("RCPT", "userunknown", "mta:t code 14")


def test_dsn_fields_inside_the_text_fill_the_record() -> None:
    spec = {**BASIC, "dsn": True}
    body = ("The following recipients failed:\n* a@example.com\nFinal-Recipient: rfc822; a@example.com\n"
            "Status: 5.2.2\nRemote-MTA: dns; mx.example.com\n")
    (d,) = scan(spec_of("t", spec), mail(body))[0]  # type: ignore[index]
    assert (d.status, d.remote_mta) == ("5.2.2", "mx.example.com")


def test_header_reasons() -> None:
    spec = {**BASIC, "header_reasons": {"x-spasign": {"NG": "filtered"}}}
    (d,) = scan(spec_of("t", spec), mail("The following recipients failed:\n* a@example.com\n", X_SPASIGN="NG"))[0]  # type: ignore[index]
    assert (d.reason, d.rule) == ("filtered", "mta:t x-spasign: NG")


def test_the_same_recipient_twice_in_a_row_is_one_record() -> None:
    body = "The following recipients failed:\n* a@example.com 550\n* a@example.com again\n"
    assert [r for r, _ in decode(BASIC, body)] == ["a@example.com"]


@pytest.mark.parametrize("bad", [{"recipient": ["(unclosed"]}, {"recipient": ["ok"], "codes": {"regex": "(bad"}}])
def test_bad_specs_fail_loudly(bad: dict[str, Any]) -> None:
    import re

    with pytest.raises(re.error):
        spec_of("t", bad)
