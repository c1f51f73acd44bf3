from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

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


def test_a_record_has_one_row_per_recipient_and_one_without_any(tmp_path: Path) -> None:
    base = {"type": "Reception", "id": "r1", "sender": "bounce@news.example.com", "queue": "q", "timestamp": 1764230000,
            "created": 1764230000, "num_attempts": 0, "response": {"code": 250, "enhanced_code": None, "content": ""},
            "meta": {"campaign": "c1"}, "headers": {"Message-ID": "<m1@news.example.com>"}}
    records = [
        {**base, "recipient": ["a@gmail.com", "b@gmail.com"]},  # KumoMTA 2024+: a list of recipients
        {**base, "id": "r2", "recipient": "c@gmail.com"},
        {**base, "id": "r3"},  # no recipient
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"type": "Delivery", "id": \n')
    events, rejects = parse(kumomta, path)
    assert sorted(events["recipient"].to_list(), key=lambda r: r or "~") == ["a@gmail.com", "b@gmail.com", "c@gmail.com", None]
    assert events["campaign_id"].unique().to_list() == ["c1"]
    assert [r.position for r in rejects] == ["line 4"]
