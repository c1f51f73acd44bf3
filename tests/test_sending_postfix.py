"""End to end through a real relay: the sender -> Debian Postfix on 127.0.0.1 -> the embedded sink.

Postfix is started by the test with its own configuration (tests/postfix.py) and relays
everything to the sink. Every message that reaches the Maildir after Postfix's hop verifies
with dkimpy, carries our headers, and the ledger, the events, Postfix's log and the Maildir
agree. A sender that stops with messages in flight is reconciled against Postfix's log
(:class:`PostfixLogRecord`): what Postfix queued is settled as sent, not sent again; what it
never saw is sent once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from tests.postfix import PostfixRelay
from tests.sending_helpers import contacts, maildir_messages, parse, send_config
from workbench.auth.dkim import verify_message
from workbench.sending import MaildirRecord, PostfixLogRecord, Sink, prepare, relay_from, send
from workbench.sending import ledger as send_ledger
from workbench.sending.campaign import register_campaign
from workbench.store import Store


@pytest.fixture
def relay(sink: Sink) -> Iterator[PostfixRelay]:
    with PostfixRelay(next_hop_port=sink.port) as running:
        yield running


def _wait_for(sink: Sink, relay: PostfixRelay, count: int, timeout: float = 90.0) -> None:
    """Postfix relays on its own schedule: wait until the sink holds ``count`` messages."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(MaildirRecord(sink.maildir).message_ids()) >= count and relay.queue_is_empty():
            return
        time.sleep(0.05)
    pytest.fail(f"Postfix did not relay {count} messages to the sink:\n{relay.log_text()[-4000:]}")


def _config(store: Store, sink: Sink, relay: PostfixRelay):  # type: ignore[no-untyped-def]
    return send_config(store, sink).with_(relay=relay_from(f"127.0.0.1:{relay.port}"))


def test_a_campaign_through_postfix_arrives_signed_and_everything_agrees(send_store, sink, relay, world_resolver,
                                                                         small_world):
    people = contacts(small_world, 40)
    prepared = prepare(send_store, "news-postfix", segment=people, template="newsletter", stream="newsletter")
    result = send(send_store, prepared, _config(send_store, sink, relay), record=PostfixLogRecord(relay.maillog))
    assert result.sent == 40 and result.counts["failed"] == 0
    assert str(relay.port) in result.relay
    _wait_for(sink, relay, 40)

    ledger = send_store.query("SELECT * FROM send_ledger WHERE campaign_id = 'news-postfix'")
    assert set(ledger["status"]) == {"sent"}
    by_mid = {r["message_id"]: r for r in ledger.iter_rows(named=True)}
    messages = maildir_messages(sink.maildir)
    assert len(messages) == 40
    for data in messages:
        assert verify_message(data, world_resolver) == [True]  # Postfix's hop keeps the signature intact
        msg = parse(data)
        row = by_mid[msg["Message-ID"]]
        assert msg["To"] == row["recipient"]
        assert msg["Delivered-To"] == row["recipient"]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Return-Path"].strip("<>").startswith("bounce+")  # the VERP envelope survived the relay
        assert any("relay.test" in line for line in msg.get_all("Received"))  # it went through Postfix

    # Postfix's own record: every Message-ID queued once, and relayed to the sink
    assert PostfixLogRecord(relay.maillog).message_ids() == set(by_mid)
    log = relay.maillog.read_text()
    assert log.count("status=sent") == 40 and "status=bounced" not in log and "status=deferred" not in log
    injected = send_store.query("SELECT message_id, sending_domain, ip_pool, smtp_code FROM events "
                                "WHERE campaign_id = 'news-postfix' AND event_type = 'injected'")
    assert sorted(injected["message_id"]) == sorted(by_mid)
    assert set(injected["sending_domain"]) == {"news.brightmart.example"}
    assert set(injected["ip_pool"]) == {"dedicated"} and set(injected["smtp_code"]) == {250}


def test_in_flight_messages_are_reconciled_against_postfixs_log(send_store, sink, relay, small_world):
    people = contacts(small_world, 30)
    config = _config(send_store, sink, relay)
    first = send(send_store, prepare(send_store, "news-pfx-crash", segment=people.head(25), template="newsletter",
                                     stream="newsletter"), config)
    assert first.sent == 25
    _wait_for(sink, relay, 25)

    # a sender that died: 5 messages Postfix had accepted and 5 it never got are left `sending`
    prepared = prepare(send_store, "news-pfx-crash", segment=people, template="newsletter", stream="newsletter")
    now = datetime.now(UTC).replace(tzinfo=None)
    register_campaign(send_store, prepared.campaign, None, now)
    send_ledger.plan(send_store, prepared.campaign, prepared.contacts, now)
    sent_keys = send_store.query("SELECT ledger_key FROM send_ledger WHERE campaign_id = 'news-pfx-crash' "
                                 "AND status = 'sent' ORDER BY ledger_key LIMIT 5")["ledger_key"].to_list()
    send_store.execute("UPDATE send_ledger SET status = 'sending', finished_at = NULL "
                       "WHERE campaign_id = 'news-pfx-crash' AND (status = 'planned' OR ledger_key IN (SELECT unnest($k)))",
                       {"k": sent_keys})
    assert send_store.scalar("SELECT count(*) FROM send_ledger WHERE status = 'sending'") == 10

    second = send(send_store, prepared, config, record=PostfixLogRecord(relay.maillog))
    assert second.counts["reconciled"] == 5 and second.counts["resent"] == 5
    assert second.sent == 5 and second.counts["uncertain"] == 0
    _wait_for(sink, relay, 30)

    held = MaildirRecord(sink.maildir).message_ids()
    ledger = send_store.query("SELECT status, message_id, detail FROM send_ledger WHERE campaign_id = 'news-pfx-crash'")
    assert set(ledger["status"]) == {"sent"}
    assert set(held) == set(ledger["message_id"]) and set(held.values()) == {1}  # each exactly once
    reconciled = ledger.filter(pl.col("detail").str.starts_with("reconciled: found in Postfix log"))
    assert len(reconciled) == 5
