from __future__ import annotations

from datetime import datetime

import polars as pl
from sendlogs_helpers import FIXTURES, parse, rows

from workbench.sources.sendlogs import pmta


def test_sniff_needs_the_accounting_header() -> None:
    assert pmta.sniff((FIXTURES / "pmta" / "acct.csv").read_text())
    assert pmta.sniff('type,timeLogged,orig,rcpt\n')
    assert not pmta.sniff("ts,event_type,recipient\n")


def test_record_types_map_to_events_and_tq_is_ignored() -> None:
    events, rejects = parse(pmta, FIXTURES / "pmta" / "acct.csv")
    assert events["event_type"].to_list() == ["injected", "delivered", "bounced", "deferred"]
    assert [r.position for r in rejects] == ["line 6"]


def test_fields_are_read_by_name() -> None:
    events, _ = parse(pmta, FIXTURES / "pmta" / "acct.csv")
    bounce = events.filter(pl.col("event_type") == "bounced").row(0, named=True)
    assert bounce["recipient"] == "zz@outlook.com"
    assert bounce["sending_ip"] == "192.0.2.11"
    assert bounce["mta_instance"] == "news-2"
    assert bounce["ip_pool"] == "dedicated"
    assert bounce["campaign_id"] == "weekly-48"
    assert bounce["message_id"] == "w48.2@news.example.com"
    assert bounce["remote_mta"] == "outlook-com.olc.protection.outlook.com"
    assert bounce["diagnostic"] == "550 5.1.1 <zz@outlook.com>: Recipient address rejected: Access denied, user unknown"
    assert (bounce["smtp_code"], bounce["enhanced_status"]) == (550, "5.1.1")
    assert (bounce["bounce_class"], bounce["bounce_reason"]) == ("hard", "userunknown")
    assert bounce["ts"] == datetime(2025, 11, 27, 7, 53, 25)  # a time_t value


def test_another_field_order_epoch_times_feedback_and_remote_bounces() -> None:
    events, rejects = parse(pmta, FIXTURES / "pmta" / "acct-epoch.csv")
    assert rows(events, "event_type", "recipient", "bounce_reason") == [
        ("delivered", "frank@gmail.com", None),
        ("bounced", "gina@orange.fr", "mailboxfull"),
        ("complained", "hank@aol.com", None),
        ("bounced", "ivy@web.de", "userunknown"),
    ]
    assert events["diagnostic"][0] == "250 2.0.0 OK, queued"
    assert events.filter(pl.col("event_type") == "complained")["user_agent"][0] == "Yahoo!-Mail-Feedback/2.0"
    assert len(rejects) == 1 and rejects[0].position == "line 6"
