from __future__ import annotations

from datetime import datetime

import polars as pl
from sendlogs_helpers import FIXTURES, parse, rows

from workbench.sources.sendlogs import kumomta


def test_sniff() -> None:
    assert kumomta.sniff((FIXTURES / "kumomta" / "log.jsonl").read_text())
    assert not kumomta.sniff('{"event": "delivered", "sg_event_id": "x"}')


def test_record_types() -> None:
    events, rejects = parse(kumomta, FIXTURES / "kumomta" / "log.jsonl")
    assert sorted(events["event_type"].to_list()) == sorted(
        ["injected", "delivered", "bounced", "complained", "deferred", "bounced", "dropped"]
    )
    assert [r.position for r in rejects] == ["line 9"]  # the truncated record; DeferredInjection is ignored


def test_delivery_fields() -> None:
    events, _ = parse(kumomta, FIXTURES / "kumomta" / "log.jsonl")
    d = events.filter(pl.col("event_type") == "delivered").row(0, named=True)
    assert d["message_id"] == "w48.1@news.example.com"
    assert d["campaign_id"] == "weekly-48"
    assert d["sending_ip"] == "192.0.2.10"
    assert d["mta_instance"] == "news-1"
    assert d["ip_pool"] == "dedicated"
    assert d["remote_mta"] == "gmail-smtp-in.l.google.com"
    assert d["diagnostic"] == "250 2.0.0 OK  1764230002 x1si - gsmtp"
    assert d["ts"] == datetime(2025, 11, 27, 7, 53, 22)


def test_feedback_names_the_complainer_and_expiration_is_a_soft_bounce() -> None:
    events, _ = parse(kumomta, FIXTURES / "kumomta" / "log.jsonl")
    fb = events.filter(pl.col("event_type") == "complained").row(0, named=True)
    assert fb["recipient"] == "bob@yahoo.com"
    assert fb["sending_ip"] == "192.0.2.11"
    expired = events.filter(pl.col("bounce_reason") == "expired")
    assert rows(expired, "recipient", "bounce_class", "enhanced_status") == [("jo@yahoo.com", "soft", "5.4.7")]
    assert expired["ts"][0] == datetime(2026, 11, 30, 8, 0)
    assert events.filter(pl.col("event_type") == "dropped")["bounce_class"].to_list() == ["admin"]
