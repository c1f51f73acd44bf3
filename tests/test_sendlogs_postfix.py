from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sendlogs_helpers import FIXTURES, parse, rows

from workbench.sources import sqlparse
from workbench.sources.sendlogs import postfix
from workbench.sources.sendlogs.base import ParseOptions

REF = datetime(2026, 12, 3, tzinfo=UTC)


def test_sniff_recognises_maillog_and_not_other_text() -> None:
    assert postfix.sniff((FIXTURES / "postfix" / "maillog").read_text(errors="replace"))
    assert not postfix.sniff("type,timeLogged,orig,rcpt\n")
    assert not postfix.sniff('{"event": "delivered"}\n')


def test_status_lines_joined_to_message_id_sender_and_campaign() -> None:
    events, _ = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF)
    got = rows(events.sort("ts", "event_type"), "event_type", "recipient", "message_id", "campaign_id", "sender", "mta_instance")
    assert ("delivered", "alice@gmail.com", "20261127084301.1@tx.example.com", "welcome-2026", "bounce@tx.example.com", "postfix-ip1") in got
    assert ("deferred", "bob@yahoo.com", "20261127084301.1@tx.example.com", "welcome-2026", "bounce@tx.example.com", "postfix-ip1") in got
    assert ("bounced", "bob@yahoo.com", "20261127084301.1@tx.example.com", "welcome-2026", "bounce@tx.example.com", "postfix-ip1") in got


def test_each_recipient_is_injected_once_when_its_message_was_enqueued() -> None:
    events, _ = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF)
    injected = events.filter(pl.col("event_type") == "injected").sort("recipient")
    # dave's message was enqueued before this file began: injected in an earlier file
    assert injected["recipient"].to_list() == ["alice@gmail.com", "bob@yahoo.com", "carol@corp.example"]
    # injection at cleanup time, not at qmgr's retry
    bob = injected.filter(pl.col("recipient") == "bob@yahoo.com")
    assert bob["ts"][0] == datetime(2026, 11, 27, 8, 43, 1)


def test_reply_code_status_and_classification() -> None:
    events, _ = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF)
    bounce = events.filter((pl.col("event_type") == "bounced") & (pl.col("recipient") == "bob@yahoo.com")).row(0, named=True)
    assert bounce["smtp_code"] == 554
    assert bounce["enhanced_status"] == "5.1.1"
    assert bounce["diagnostic"].startswith("554 5.1.1 <bob@yahoo.com>: Recipient address rejected")
    assert bounce["remote_mta"] == "mta6.am0.yahoodns.net"
    assert (bounce["bounce_class"], bounce["bounce_reason"]) == ("hard", "userunknown")
    deferral = events.filter(pl.col("event_type") == "deferred").sort("ts").row(0, named=True)
    assert deferral["smtp_code"] == 421 and deferral["bounce_class"] in ("soft", "block")


def test_expired_message_bounces_its_deferred_recipient() -> None:
    events, _ = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF)
    expired = events.filter((pl.col("recipient") == "carol@corp.example") & (pl.col("event_type") == "bounced"))
    assert len(expired) == 1
    assert expired["bounce_reason"][0] == "expired"
    assert expired["ts"][0] == datetime(2026, 12, 2, 9, 0, 31)


def test_bad_lines_are_rejected_with_their_line_number() -> None:
    _, rejects = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF)
    positions = {r.position: r.reason for r in rejects}
    assert "line 19" in positions  # no queue id
    assert "not valid UTF-8" in positions["line 20"]


def test_year_is_taken_from_the_reference_time_and_rolls_back_over_new_year() -> None:
    lines = pl.DataFrame({"line_no": [1], "line": [
        "Dec 31 23:59:59 h postfix/smtp[1]: ABCDE12345: to=<a@b.c>, relay=x[1.1.1.1]:25, dsn=2.0.0, status=sent (250 ok)"
    ]})
    events = sqlparse.run(postfix, lines, ParseOptions(reference_time=datetime(2027, 1, 1, 0, 5, tzinfo=UTC))).events
    assert events.filter(pl.col("event_type") == "delivered")["ts"][0] == datetime(2026, 12, 31, 23, 59, 59)


def test_rfc3339_stamps_are_converted_to_utc_and_orig_to_ignored() -> None:
    events, rejects = parse(postfix, FIXTURES / "postfix" / "maillog-rfc3339.log")
    assert not rejects
    bounce = events.filter(pl.col("event_type") == "bounced").row(0, named=True)
    assert bounce["ts"] == datetime(2026, 11, 27, 7, 43, 6, 500000)
    assert bounce["recipient"] == "erin@outlook.com"
    assert bounce["message_id"] == "order-9@tx.example.com"
    assert bounce["bounce_class"] == "block"


def test_queue_facts_carry_across_chunks() -> None:
    # a tiny chunk size splits the message-id line from its status lines
    small, _ = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF, chunk_bytes=200)
    whole, _ = parse(postfix, FIXTURES / "postfix" / "maillog", reference_time=REF)
    assert small.sort("key").equals(whole.sort("key"))
