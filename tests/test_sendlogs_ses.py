from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

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


def test_tags_and_recipients_each_event_gives(tmp_path: Path) -> None:
    mail = {"timestamp": "2026-11-27T10:00:00.000Z", "messageId": "m-1", "source": "A <a@news.example.com>"}
    lines = [
        # two delivered recipients; the campaign under campaign_id, the SES auto-tags
        {"eventType": "Delivery", "mail": {**mail, "tags": {
            "campaign_id": ["c-7"], "contact_id": ["C1"], "ses:outgoing-ip": ["54.240.8.10"],
            "ses:from-domain": ["news.example.com"]}},
         "delivery": {"timestamp": "2026-11-27T10:00:01.000Z", "recipients": ["x@example.org", "y@example.org"],
                      "smtpResponse": "250 2.0.0 OK"}},
        # no destination at all: one row without a recipient; "campaign" wins over "campaign_id"
        {"eventType": "Send", "mail": {**mail, "messageId": "m-2", "tags": {"campaign": ["c-8"], "campaign_id": ["c-9"]}}},
        # no tags
        {"eventType": "Send", "mail": {**mail, "messageId": "m-3", "destination": ["z@example.org"]}},
    ]
    path = tmp_path / "ses.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    events, rejects = parse(ses, path)
    assert rows(events.sort("message_id", "recipient", nulls_last=True), "message_id", "recipient", "campaign_id",
                "contact_id", "sending_ip", "sending_domain") == [
        ("m-1", "x@example.org", "c-7", "C1", "54.240.8.10", "news.example.com"),
        ("m-1", "y@example.org", "c-7", "C1", "54.240.8.10", "news.example.com"),
        ("m-2", None, "c-8", None, None, "news.example.com"),
        ("m-3", "z@example.org", None, None, None, "news.example.com"),
    ]
    assert [r.position for r in rejects] == ["line 4"]
