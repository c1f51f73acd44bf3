"""The composer: correct MIME (checked by the stdlib's parser), folding, encodings, and no
header injection from any field."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from workbench.errors import SendError
from workbench.sending.compose import (
    MAX_LINE,
    MessageSpec,
    address,
    compose,
    header_value,
    message_id_for,
)

WHEN = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _spec(**changes: object) -> MessageSpec:
    base = dict(message_id="<abc.C1@news.brightmart.example>", from_addr="news@news.brightmart.example",
                to="ana@example.com", subject="This week's picks", html="<p>Hello Ana</p>", text="Hello Ana\n",
                date=WHEN, return_path="bounce+c1=C1=ab12cd@news.brightmart.example", from_name="Brightmart",
                list_unsubscribe=("mailto:unsubscribe+c1=C1@news.brightmart.example", "https://t.example/u/tok"),
                list_id="newsletter <newsletter.news.brightmart.example>", feedback_id="c1:newsletter:brightmart:bm1",
                trace="v=1; c=c1; r=C1; l=newsletter; s=0011223344556677")
    base.update(changes)
    return MessageSpec(**base)  # type: ignore[arg-type]


def _parse(data: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_structure_and_headers():
    composed = compose(_spec())
    data = composed.as_bytes()
    msg = _parse(data)
    assert msg["From"] == "Brightmart <news@news.brightmart.example>"
    assert msg["To"] == "ana@example.com" and msg["Subject"] == "This week's picks"
    assert msg["Date"] == "Fri, 27 Nov 2026 09:30:00 +0000"
    assert msg["Message-ID"] == "<abc.C1@news.brightmart.example>"
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe+c1=C1@news.brightmart.example>, <https://t.example/u/tok>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Feedback-ID"] == "c1:newsletter:brightmart:bm1"
    assert msg["X-Workbench-Trace"].startswith("v=1; c=c1; r=C1")
    assert msg["List-Id"] == "newsletter <newsletter.news.brightmart.example>"
    assert msg.get_content_type() == "multipart/alternative" and msg["MIME-Version"] == "1.0"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" and p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    assert parts[0].get_content().rstrip("\n") == "Hello Ana" and parts[1].get_content().rstrip("\n") == "<p>Hello Ana</p>"
    assert composed.sender == "bounce+c1=C1=ab12cd@news.brightmart.example" and composed.recipient == "ana@example.com"
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def test_without_tracking_one_click_is_not_announced():
    msg = _parse(compose(_spec(list_unsubscribe=("mailto:u@news.brightmart.example",), one_click=False)).as_bytes())
    assert "List-Unsubscribe-Post" not in msg and msg["List-Unsubscribe"] == "<mailto:u@news.brightmart.example>"
    tx = _parse(compose(_spec(list_unsubscribe=(), list_id=None)).as_bytes())
    assert "List-Unsubscribe" not in tx and "List-Id" not in tx


def test_unicode_subject_name_and_body_round_trip():
    text = "Grüße aus Paris — prix spéciaux 🎉\n.une ligne qui commence par un point\n  deux espaces\tet une tab \n"
    spec = _spec(subject="Grüße, Ana — vos prix spéciaux de la semaine, avec un sujet assez long pour être replié",
                 from_name="Brightmart Société", text=text, html="<p>Grüße — 🎉</p>")
    data = compose(spec).as_bytes()
    msg = _parse(data)
    assert msg["Subject"] == spec.subject and msg["From"].addresses[0].display_name == "Brightmart Société"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == text.rstrip("\n")
    header_block = data.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()
    assert all(len(line) <= MAX_LINE for line in header_block.split(b"\r\n"))


def test_long_list_unsubscribe_is_folded():
    uris = ("mailto:unsubscribe+news=C1=abcdef@news.brightmart.example?subject=unsubscribe",
            "https://t.brightmart.example/u/" + "x" * 200)
    data = compose(_spec(list_unsubscribe=uris)).as_bytes()
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert "List-Unsubscribe: <mailto:" in head and ",\r\n <https://" in head
    assert _parse(data)["List-Unsubscribe"] == f"<{uris[0]}>, <{uris[1]}>"


def test_display_names_with_specials_are_quoted():
    msg = _parse(compose(_spec(from_name='Bright "mart", Inc.')).as_bytes())
    assert msg["From"].addresses[0].display_name == 'Bright "mart", Inc.'


@pytest.mark.parametrize("field", ["subject", "from_name", "message_id", "feedback_id", "trace", "list_id"])
@pytest.mark.parametrize("evil", ["x\r\nBcc: victim@example.com", "x\nBcc: v@example.com", "x\rBcc: v", "x\x00y"])
def test_header_injection_is_refused_in_every_field(field, evil):
    with pytest.raises(SendError, match="CR, LF or NUL"):
        compose(_spec(**{field: evil}))


@pytest.mark.parametrize("field", ["to", "from_addr", "return_path", "reply_to"])
def test_addresses_must_be_plain(field):
    with pytest.raises(SendError):
        compose(_spec(**{field: "ana@example.com\r\nBcc: v@example.com"}))
    with pytest.raises(SendError):
        compose(_spec(**{field: "Ana <ana@example.com>"}))


def test_list_unsubscribe_and_extra_headers_are_checked_too():
    with pytest.raises(SendError):
        compose(_spec(list_unsubscribe=("https://t.example/u/x>\r\nBcc: v@example.com",)))
    with pytest.raises(SendError):
        compose(_spec(extra_headers={"X-Campaign": "a\r\nBcc: v@example.com"}))
    with pytest.raises(SendError, match="field name"):
        compose(_spec(extra_headers={"Bad Name:": "v"}))
    msg = _parse(compose(_spec(extra_headers={"X-Mailer-Campaign": "c1"})).as_bytes())
    assert msg["X-Mailer-Campaign"] == "c1"


def test_address_helpers():
    assert address(" ana@example.com ") == "ana@example.com"
    assert address("ana@exämple.com") == "ana@xn--exmple-cua.com"
    for bad in ("ana", "ana@", "@example.com", "a b@example.com", "ana..x@example.com", "ána@example.com"):
        with pytest.raises(SendError):
            address(bad)
    assert header_value("Subject", "fine") == "fine"


def test_message_ids_are_fixed_by_their_key():
    one = message_id_for("news-1/C0000001", "news.brightmart.example")
    assert one == message_id_for("news-1/C0000001", "news.brightmart.example")
    assert one != message_id_for("news-1/C0000002", "news.brightmart.example")
    assert one.startswith("<") and one.endswith("@news.brightmart.example>") and " " not in one


def test_boundary_never_appears_in_the_parts():
    html = "<p>" + "=_wb_ " * 50 + "</p>"
    msg = _parse(compose(_spec(html=html)).as_bytes())
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n").rstrip("\n") == html
