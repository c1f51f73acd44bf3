from __future__ import annotations

from datetime import datetime

import polars as pl
from sendlogs_helpers import FIXTURES, parse, rows

from workbench.sources.sendlogs import ses


def test_sniff_raw_and_sns_wrapped() -> None:
    assert ses.sniff((FIXTURES / "ses" / "firehose.jsonl").read_text())
    assert ses.sniff((FIXTURES / "ses" / "sns-notification.json").read_text())
    assert not ses.sniff('{"event": "open", "sg_event_id": "x"}')


def test_one_row_per_bounced_recipient() -> None:
    events, rejects = parse(ses, FIXTURES / "ses" / "firehose.jsonl")
    bounces = events.filter(pl.col("event_type") == "bounced").sort("recipient")
    assert rows(bounces, "recipient", "bounce_class", "bounce_reason", "enhanced_status", "smtp_code") == [
        ("gone@example.net", "hard", "userunknown", "5.1.1", 550),
        ("nobody@example.net", "hard", "userunknown", "5.1.1", 550),
    ]
    assert bounces["campaign_id"].unique().to_list() == ["order-confirmation"]
    assert bounces["sending_ip"].unique().to_list() == ["54.240.8.10"]
    assert {r.position for r in rejects} == {"line 4", "line 5"}


def test_sns_wrapped_lines_and_messages_keep_the_ses_message_id() -> None:
    events, _ = parse(ses, FIXTURES / "ses" / "firehose.jsonl")
    delivery = events.filter(pl.col("event_type") == "delivered").row(0, named=True)
    assert delivery["message_id"] == "0100017a-ses-2"
    assert delivery["remote_mta"] == "142.250.1.27"
    assert delivery["ts"] == datetime(2026, 11, 27, 10, 1, 1, 500000)
    opened = events.filter(pl.col("event_type") == "opened").row(0, named=True)
    assert opened["message_id"] == "0100017a-ses-2"
    assert "GoogleImageProxy" in opened["user_agent"]


def test_a_notification_file_is_one_document() -> None:
    events, rejects = parse(ses, FIXTURES / "ses" / "sns-notification.json", document=True)
    assert not rejects
    assert rows(events, "event_type", "recipient", "campaign_id", "message_id") == [
        ("complained", "mo@hotmail.com", "alerts-1127", "0102017a-ses-3")
    ]
    assert events["key"][0].startswith("5f6b8b9c-22a1-5b5e-9d0f-7f2a0f1d4c11|")
