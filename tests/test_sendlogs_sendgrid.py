from __future__ import annotations

import polars as pl
from sendlogs_helpers import FIXTURES, parse, rows

from workbench.sources.sendlogs import sendgrid


def test_sniff() -> None:
    assert sendgrid.sniff((FIXTURES / "sendgrid" / "webhook.json").read_text())
    assert sendgrid.sniff((FIXTURES / "sendgrid" / "events.jsonl").read_text())
    assert not sendgrid.sniff("ts,event_type\n")


def test_webhook_array_events_and_keys() -> None:
    events, rejects = parse(sendgrid, FIXTURES / "sendgrid" / "webhook.json", document=True)
    assert events["event_type"].to_list() == ["injected", "delivered", "delivered", "opened", "bounced"]
    # the retried delivery carries the same sg_event_id: the same key, loaded once by the store
    assert events.filter(pl.col("event_type") == "delivered")["key"].n_unique() == 1
    assert sorted(r.reason for r in rejects) == [
        "not a SendGrid event (malformed JSON, or no event / timestamp)", "unknown SendGrid event name",
    ]


def test_ip_means_sender_for_deliveries_and_reader_for_opens() -> None:
    events, _ = parse(sendgrid, FIXTURES / "sendgrid" / "webhook.json", document=True)
    d = events.filter(pl.col("event_type") == "delivered").row(0, named=True)
    o = events.filter(pl.col("event_type") == "opened").row(0, named=True)
    assert (d["sending_ip"], d["client_ip"], d["ip_pool"]) == ("198.51.100.21", None, "shared")
    assert (o["sending_ip"], o["client_ip"], o["is_machine"]) == (None, "17.58.0.1", True)
    assert d["message_id"] == o["message_id"] == "14c5d75ce93"


def test_blocked_bounce_is_a_block() -> None:
    events, _ = parse(sendgrid, FIXTURES / "sendgrid" / "webhook.json", document=True)
    b = events.filter(pl.col("event_type") == "bounced").row(0, named=True)
    assert (b["bounce_class"], b["bounce_reason"], b["enhanced_status"], b["smtp_code"]) == ("block", "badreputation", "5.7.1", 550)


def test_json_lines_with_string_numbers_and_a_broken_line() -> None:
    events, rejects = parse(sendgrid, FIXTURES / "sendgrid" / "events.jsonl")
    assert rows(events, "event_type") == [("injected",), ("deferred",), ("delivered",), ("clicked",), ("unsubscribed",), ("dropped",)]
    assert events.filter(pl.col("event_type") == "clicked")["url"][0] == "https://shop.example/x"
    assert events.filter(pl.col("event_type") == "dropped")["bounce_class"][0] == "admin"
    assert [r.position for r in rejects] == ["line 7"]
