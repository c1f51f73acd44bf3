"""Transactional mail: one message now, idempotent, global suppressions only, same events."""

from __future__ import annotations

import polars as pl
import pytest

from tests.sending_helpers import (
    TRACE_KEY,
    maildir_messages,
    parse,
    send_config,
)
from workbench.audience import suppression
from workbench.auth.dkim import verify_message
from workbench.errors import ConfigError, SendError
from workbench.feedback.trace import parse_verp
from workbench.sending import RecordingTransport, Reply, send_one

RESET = {"reset_url": "https://www.brightmart.example/reset/abc123", "first_name": "Ana"}


def test_send_one_delivers_a_signed_transactional_message(send_store, sink, world_resolver):
    result = send_one(send_store, template="password-reset", to="Ana@Example.com", variables=RESET,
                      config=send_config(send_store, sink), idempotency_key="reset-1")
    assert result.status == "sent" and result.smtp_code == 250
    (data,) = maildir_messages(sink.maildir)
    assert verify_message(data, world_resolver) == [True]
    msg = parse(data)
    assert msg["From"].addresses[0].domain == "tx.brightmart.example" and msg["To"] == "ana@example.com"
    assert msg["Subject"] == "Reset your Brightmart password" and msg["Message-ID"] == result.message_id
    assert "List-Unsubscribe" not in msg and "List-Unsubscribe-Post" not in msg  # transactional
    assert "https://www.brightmart.example/reset/abc123" in msg.get_body(("plain",)).get_content()
    assert "Hello Ana" in msg.get_body(("html",)).get_content()
    verp = parse_verp(msg["Return-Path"], key=TRACE_KEY)
    assert verp is not None and verp.valid and verp.campaign_id.startswith("tx-password-reset-")
    assert msg["Feedback-ID"].split(":")[1] == "transactional"
    row = send_store.query("SELECT * FROM send_ledger WHERE ledger_key = 'tx/reset-1'").row(0, named=True)
    assert row["status"] == "sent" and row["stream"] == "transactional" and row["sending_ip"] == "192.0.2.10"
    event = send_store.query("SELECT * FROM events WHERE source = 'workbench-send'").row(0, named=True)
    assert event["event_type"] == "injected" and event["sending_domain"] == "tx.brightmart.example"
    assert event["message_id"] == result.message_id and event["ip_pool"] == "dedicated"


def test_the_same_key_never_sends_twice(send_store, sink):
    config = send_config(send_store, sink)
    first = send_one(send_store, template="password-reset", to="bo@example.com", variables=RESET, config=config,
                     idempotency_key="order-77")
    second = send_one(send_store, template="password-reset", to="bo@example.com", variables=RESET, config=config,
                      idempotency_key="order-77")
    assert (first.status, second.status) == ("sent", "duplicate") and first.message_id == second.message_id
    assert len(maildir_messages(sink.maildir)) == 1
    third = send_one(send_store, template="password-reset", to="bo@example.com", variables=RESET, config=config)
    assert third.status == "sent" and third.message_id != first.message_id


def test_only_global_suppressions_stop_transactional_mail(send_store, sink):
    config = send_config(send_store, sink)
    suppression.add(send_store, "news-only@example.com", by="t", reason="unsubscribe", scope="newsletter")
    suppression.add(send_store, "complained@example.com", by="t", reason="complaint")
    assert send_one(send_store, template="password-reset", to="news-only@example.com", variables=RESET,
                    config=config).status == "sent"
    blocked = send_one(send_store, template="password-reset", to="complained@example.com", variables=RESET, config=config)
    assert blocked.status == "suppressed" and "complaint" in (blocked.detail or "")
    assert [parse(m)["To"] for m in maildir_messages(sink.maildir)] == ["news-only@example.com"]
    assert send_store.scalar("SELECT status FROM send_ledger WHERE recipient = 'complained@example.com'") == "suppressed"


def test_missing_variables_and_bad_addresses_are_refused_before_anything(send_store, sink):
    config = send_config(send_store, sink)
    with pytest.raises(ConfigError, match="needs reset_url"):
        send_one(send_store, template="password-reset", to="a@example.com", variables={}, config=config)
    with pytest.raises(SendError):
        send_one(send_store, template="password-reset", to="a@example.com\r\nBcc: v@example.com", variables=RESET,
                 config=config)
    assert send_store.scalar("SELECT count(*) FROM send_ledger") == 0


def test_deferred_and_refused_replies(send_store, sink):
    config = send_config(send_store, sink)
    deferred = send_one(send_store, template="password-reset", to="later@example.com", variables=RESET, config=config,
                        transport=RecordingTransport(reply=lambda r: Reply(451, "4.3.0 try again", "rcpt")))
    refused = send_one(send_store, template="password-reset", to="gone@example.com", variables=RESET, config=config,
                       transport=RecordingTransport(reply=lambda r: Reply(550, "5.1.1 no such user", "rcpt")))
    down = send_one(send_store, template="password-reset", to="c@example.com", variables=RESET,
                    config=config.with_(relay=config.relay.__class__(port=9)))
    assert (deferred.status, deferred.smtp_code) == ("planned", 451)
    assert (refused.status, refused.smtp_code) == ("failed", 550)
    assert down.status == "planned" and "9" in (down.detail or "")
    kinds = send_store.query("SELECT recipient, event_type FROM events ORDER BY recipient")
    assert kinds.rows() == [("c@example.com", "deferred"), ("gone@example.com", "bounced"), ("later@example.com", "deferred")]
    assert pl.DataFrame(kinds)["event_type"].n_unique() == 2
