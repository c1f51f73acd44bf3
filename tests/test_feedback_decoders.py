"""Choosing the decoder: by the Subject first, then every decoder in a fixed order, then the
generic RFC 3464 reader, then auto-reply detection."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from workbench.feedback.decoders import BY_SUBJECT, DEFAULT_ORDER, decode, order_for, original_of
from workbench.feedback.mime import read_mail
from workbench.feedback.mtas import DECODERS
from workbench.feedback.rules import default_rules
from workbench.feedback.textscan import decoder, load_specs

#: names in the decoder order that have no decoder of their own: their bounces are DSNs that
#: the generic RFC 3464 reader handles (kept in the order, as Sisimai's, for when one is added)
GENERIC = {"exchange2007", "courier", "messagingserver", "googleworkspace", "mfilter", "activehunter", "mailmarshal",
           "biglobe"}


def test_every_decoder_in_the_order_exists_or_is_read_generically() -> None:
    names = set(DEFAULT_ORDER) | {n for names in BY_SUBJECT.values() for n in names}
    known = set(DECODERS) | set(load_specs())
    assert names - known == GENERIC
    assert known <= set(DEFAULT_ORDER)  # every decoder is tried for any subject
    assert len(DEFAULT_ORDER) == len(set(DEFAULT_ORDER))


def test_text_decoders_are_built_from_their_specs() -> None:
    rules = default_rules()
    for name in load_specs():
        assert callable(decoder(name, rules)), name
    assert decoder("no-such-mta", rules) is None


@pytest.mark.parametrize(
    ("subject", "first"),
    [
        ("Undeliverable: Your November picks", "exchange2007"),
        ("Undeliverable message", "notes"),
        ("Delivery Status Notification (Failure)", "opensmtpd"),
        ("AWS Notification Message", "amazonses"),
        ("Warning: could not send message for past 4 hours", "sendmail"),
        ("[Fwd: Mail delivery failed]", "exim"),
    ],
)
def test_subject_order(subject: str, first: str) -> None:
    order = order_for(subject)
    assert order[0] == first or first in order[:3]
    assert set(order) >= set(DEFAULT_ORDER)


def test_decode_names_the_decoder_and_returns_the_original() -> None:
    mail = read_mail((FIXTURES / "bounces" / "postfix-userunknown.eml").read_bytes())
    found = decode(mail, default_rules())
    assert found is not None
    agent, records, original = found
    assert agent == "postfix" and [r.recipient for r in records] == ["nobody.here@example.org"]
    assert "Message-ID: <news-20261103.42@news.brightmart.example>" in original
    assert original_of(mail.body).startswith("From: Brightmart")


def test_decode_falls_back_to_rfc3464_then_auto_replies() -> None:
    generic = read_mail((FIXTURES / "bounces" / "office365-userunknown.eml").read_bytes())
    assert decode(generic, default_rules())[0] == "rfc3464"  # type: ignore[index]
    reply = read_mail((FIXTURES / "bounces" / "autoreply-vacation.eml").read_bytes())
    assert decode(reply, default_rules())[0] == "rfc3834"  # type: ignore[index]
    assert decode(read_mail((FIXTURES / "bounces" / "not-a-bounce.eml").read_bytes()), default_rules()) is None
