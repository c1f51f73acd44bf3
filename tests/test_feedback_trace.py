"""Trace headers: Feedback-ID, X-Workbench-Trace (signed), VERP return paths."""

from __future__ import annotations

import pytest

from workbench.feedback.trace import (
    Trace,
    feedback_id,
    parse_feedback_id,
    parse_trace,
    parse_verp,
    trace_header,
    verp_address,
)

KEY = b"test-key"


def test_feedback_id_round_trip() -> None:
    value = feedback_id("news-20261120", "newsletter", "brightmart", "bm1")
    assert value == "news-20261120:newsletter:brightmart:bm1"
    assert parse_feedback_id(value) == Trace(campaign_id="news-20261120", stream="newsletter", sender_id="bm1")


@pytest.mark.parametrize("value", ["", "a:b:c", "a:b:c:d:e", "a::c:d", "campaign only", None])
def test_feedback_id_of_another_format_is_none(value: str | None) -> None:
    assert parse_feedback_id(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["has space", "semi;colon", "co:lon", "eq=ual", "at@sign", "", "<x>"])
def test_values_with_separators_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="empty or holds"):
        feedback_id(bad, "s", "c", "id")
    with pytest.raises(ValueError):
        trace_header(bad, "C1")
    with pytest.raises(ValueError):
        verp_address("camp", bad, "example.com")


def test_unsigned_trace_round_trip() -> None:
    value = trace_header("news-1", "C0001", "newsletter")
    assert value == "v=1; c=news-1; r=C0001; l=newsletter"
    assert parse_trace(value) == Trace(campaign_id="news-1", contact_id="C0001", list_name="newsletter", valid=None)
    # a key but nothing signed: cannot be checked
    assert parse_trace(value, key=KEY).valid is None  # type: ignore[union-attr]


def test_signed_trace_checks_out_only_under_its_key() -> None:
    value = trace_header("news-1", "C0001", key=KEY)
    assert value.startswith("v=1; c=news-1; r=C0001; s=")
    assert parse_trace(value, key=KEY).valid is True  # type: ignore[union-attr]
    assert parse_trace(value, key=b"other").valid is False  # type: ignore[union-attr]
    assert parse_trace(value).valid is None  # type: ignore[union-attr]


def test_forged_trace_fails_its_signature() -> None:
    value = trace_header("news-1", "C0001", key=KEY)
    forged = value.replace("C0001", "C0002")
    trace = parse_trace(forged, key=KEY)
    assert trace is not None and trace.contact_id == "C0002" and trace.valid is False


@pytest.mark.parametrize("value", ["", "garbage", "v=2; c=x; r=y", "v=1; r=y", "c=x; r=y"])
def test_other_trace_values_are_none(value: str) -> None:
    assert parse_trace(value) is None


def test_trace_tolerates_spacing_and_case() -> None:
    trace = parse_trace("V=1;C=news-1 ;  R=C9")
    assert trace == Trace(campaign_id="news-1", contact_id="C9")


def test_verp_round_trip_signed_and_not() -> None:
    plain = verp_address("news-1", "C0001", "news.brightmart.example")
    assert plain == "bounce+news-1=C0001@news.brightmart.example"
    assert parse_verp(plain) == Trace(campaign_id="news-1", contact_id="C0001")
    signed = verp_address("news-1", "C0001", "news.brightmart.example", key=KEY, local="unsubscribe")
    assert signed.startswith("unsubscribe+news-1=C0001=") and signed.endswith("@news.brightmart.example")
    assert parse_verp(signed, key=KEY).valid is True  # type: ignore[union-attr]
    assert parse_verp(signed.replace("C0001", "C0002"), key=KEY).valid is False  # type: ignore[union-attr]
    assert parse_verp(f"<{signed}>") is not None


@pytest.mark.parametrize("address", ["bounce@news.example", "bounce+@news.example", "bounce+a@news.example",
                                     "bounce+a=b=c=d@x.example", "not an address", ""])
def test_other_addresses_are_not_verp(address: str) -> None:
    assert parse_verp(address) is None


@pytest.mark.parametrize("campaign", ["news-20261120", "promo_7", "a", "X" * 60])
@pytest.mark.parametrize("contact", ["C0000001", "42", "contact.with.dots"])
def test_round_trips(campaign: str, contact: str) -> None:
    for key in (None, KEY):
        trace = parse_trace(trace_header(campaign, contact, "alerts", key=key), key=key)
        assert trace is not None and (trace.campaign_id, trace.contact_id, trace.list_name) == (campaign, contact, "alerts")
        assert trace.valid is (True if key else None)
        verp = parse_verp(verp_address(campaign, contact, "example.com", key=key), key=key)
        assert verp is not None and (verp.campaign_id, verp.contact_id) == (campaign, contact)


def test_signatures_differ_per_message() -> None:
    a = trace_header("news-1", "C1", key=KEY)
    b = trace_header("news-1", "C2", key=KEY)
    assert a.rsplit("s=", 1)[1] != b.rsplit("s=", 1)[1]
    assert len(a.rsplit("s=", 1)[1]) == 16
