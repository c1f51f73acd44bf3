"""The flat view of a message the decoders read: headers, parts, encodings, bounds, and the
lenient handling of broken MIME."""

from __future__ import annotations

import base64

import pytest
from conftest import FIXTURES

from workbench.feedback.mime import MAX_ORIGINAL_BODY, parse_headers, read_mail

BOUNCES = FIXTURES / "bounces"


def test_headers_are_lowercased_unfolded_and_decoded() -> None:
    headers = parse_headers(
        "Subject: =?UTF-8?B?VW56dXN0ZWxsYmFyOiBJaHJlIE5hY2hyaWNodA==?=\n"
        "To: a@example.com,\n  b@example.com\nReceived: one\nReceived: two\nnot a header\nX-A: 1\n\nBody: no\n"
    )
    assert headers["subject"] == ["Unzustellbar: Ihre Nachricht"]
    assert headers["to"] == ["a@example.com, b@example.com"]
    assert headers["received"] == ["one", "two"]
    assert headers["x-a"] == ["1"]
    assert "body" not in headers


def test_broken_encoded_word_is_kept_as_is() -> None:
    headers = parse_headers("Subject: =?x-unknown-charset?Q?caf=E9?=\n")
    assert headers["subject"][0].startswith("=?x-unknown-charset?Q?caf")


def test_a_dsn_is_flattened_with_part_markers() -> None:
    mail = read_mail((BOUNCES / "postfix-userunknown.eml").read_bytes())
    assert mail.content_type == "multipart/report"
    assert mail.report_type == "delivery-status"
    assert mail.parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    body = mail.body
    assert body.index("The mail system") < body.index("Content-Type: message/delivery-status") \
        < body.index("Content-Type: text/rfc822-headers")
    assert "Final-Recipient: rfc822; nobody.here@example.org" in body
    assert mail.subject == "Undelivered Mail Returned to Sender"
    assert mail.first("X-Missing") == ""


def test_crlf_and_tabs_are_normalised() -> None:
    raw = b"From: a@b\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nline\tone\r\nline two\r\n"
    mail = read_mail(raw)
    assert mail.body.rstrip("\n") == "line one\nline two"
    assert "\r" not in mail.body and "\t" not in mail.body


def test_base64_and_quoted_printable_parts_are_decoded() -> None:
    text = "Empfänger unbekannt".encode()
    raw = (b"From: a@b\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
           b"--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
           + base64.encodebytes(text) +
           b"--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
           b"Bo=C3=AEte pleine=\n !\n--b--\n")
    mail = read_mail(raw)
    assert "Empfänger unbekannt" in mail.body
    assert "Boîte pleine !" in mail.body


def test_latin1_part_is_decoded_by_its_charset() -> None:
    raw = ("From: a@b\nSubject: s\nContent-Type: text/plain; charset=iso-8859-1\n\nDestinataire inconnu é\n"
           .encode("latin-1"))
    assert "inconnu é" in read_mail(raw).body


def test_html_is_stripped_unless_a_plain_alternative_exists() -> None:
    only_html = (b"From: a@b\nSubject: s\nContent-Type: text/html\n\n"
                 b"<html><style>p{}</style><p>Mailbox&nbsp;full</p><br>retry<script>x()</script></html>")
    body = read_mail(only_html).body
    assert "Mailbox\xa0full" in body and "retry" in body and "<p>" not in body and "x()" not in body
    both = (b"From: a@b\nSubject: s\nContent-Type: multipart/alternative; boundary=\"a\"\n\n"
            b"--a\nContent-Type: text/plain\n\nplain words\n--a\nContent-Type: text/html\n\n<p>html words</p>\n--a--\n")
    body = read_mail(both).body
    assert "plain words" in body and "html words" not in body


def test_binary_parts_are_dropped() -> None:
    raw = (b"From: a@b\nSubject: s\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
           b"kept\n--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n")
    mail = read_mail(raw)
    assert "kept" in mail.body and "iVBOR" not in mail.body
    assert mail.parts == ["text/plain", "image/png"]


def test_wrong_boundary_in_header_is_guessed() -> None:
    raw = (b"From: a@b\nSubject: s\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"WRONG\"\n\n"
           b"--RIGHT123\nContent-Type: text/plain\n\nhello\n--RIGHT123\nContent-Type: message/delivery-status\n\n"
           b"Final-Recipient: rfc822; x@example.com\nAction: failed\nStatus: 5.1.1\n--RIGHT123--\n")
    mail = read_mail(raw)
    assert "Content-Type: message/delivery-status" in mail.body
    assert "Status: 5.1.1" in mail.body


def test_declared_multipart_written_as_plain_text_keeps_the_text() -> None:
    raw = b"From: a@b\nSubject: s\nContent-Type: multipart/mixed\n\nno boundaries at all\njust text\n"
    assert "just text" in read_mail(raw).body


def test_returned_message_body_is_bounded() -> None:
    big = b"x" * (MAX_ORIGINAL_BODY * 4)
    raw = (b"From: a@b\nSubject: s\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: message/rfc822\n\n"
           b"From: me@example.com\nMessage-ID: <m@example.com>\n\n" + big + b"\n--b--\n")
    mail = read_mail(raw)
    assert "Message-ID: <m@example.com>" in mail.body
    assert mail.body.count("x") <= MAX_ORIGINAL_BODY + 10


def test_deeply_nested_multiparts_stop_at_the_depth_bound() -> None:
    raw = b"From: a@b\nSubject: s\n"
    inner = b"Content-Type: text/plain\n\ncore text\n"
    for n in range(30):
        inner = (f"Content-Type: multipart/mixed; boundary=\"b{n}\"\n\n--b{n}\n".encode() + inner + f"\n--b{n}--\n".encode())
    mail = read_mail(raw + inner)  # never raises, never recurses without bound
    assert isinstance(mail.body, str)


def test_headers_only_and_empty_messages_do_not_raise() -> None:
    assert read_mail(b"").body == ""
    mail = read_mail(b"From: a@b\nSubject: only headers\n")
    assert mail.subject == "only headers" and mail.body.strip() == ""
    assert read_mail(b"\n\nbody without headers").body.strip() == "body without headers"


def test_a_forwarded_bounce_is_unwrapped() -> None:
    bounce = (BOUNCES / "qmail-userunknown.eml").read_text()
    quoted = "\n".join("> " + line for line in bounce.split("\n"))
    raw = ("From: colleague@brightmart.example\nTo: deliverability@brightmart.example\nSubject: Fwd: failure notice\n"
           "Content-Type: text/plain\n\nCan you look at this?\n\n---------- Forwarded message ---------\n" + quoted)
    mail = read_mail(raw.encode())
    assert mail.subject == "failure notice"
    assert mail.first("from") == "MAILER-DAEMON@mail.example.jp"
    assert "qmail-send program" in mail.body and not mail.body.startswith(">")


@pytest.mark.parametrize("subject", ["Fwd: hello", "TR: bonjour", "WG: hallo"])
def test_a_forward_without_quoted_bounce_is_left_alone(subject: str) -> None:
    raw = f"From: a@b\nSubject: {subject}\nContent-Type: text/plain\n\nno quoted lines here\n".encode()
    assert read_mail(raw).subject == subject


def test_message_xdelivery_status_is_read_as_delivery_status() -> None:
    raw = (b"From: a@b\nSubject: s\nContent-Type: multipart/report; boundary=\"b\"\n\n--b\n"
           b"Content-Type: message/xdelivery-status\n\nFinal-Recipient: rfc822; x@example.com\n--b--\n")
    assert "Content-Type: message/delivery-status" in read_mail(raw).body
