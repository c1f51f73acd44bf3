"""The campaign sender end to end: the small world's newsletter to the real sink on 127.0.0.1.

Every message verifies with dkimpy against the published key, carries the trace contract
and the one-click headers, goes out from the address standing for its IP, respects the
providers' connection and per-connection limits, and the ledger, the events and the Maildir
agree exactly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from tests.sending_helpers import (
    TRACE_KEY,
    contacts,
    maildir_messages,
    parse,
    send_config,
)
from workbench.audience import suppression
from workbench.auth.dkim import verify_message
from workbench.feedback.trace import parse_feedback_id, parse_trace, parse_verp
from workbench.sending import (
    MaildirRecord,
    RecordingTransport,
    Reply,
    Shaping,
    WarmupSchedule,
    prepare,
    send,
)
from workbench.sending.shaping import ProviderRule
from workbench.store import Store

BIND = {"192.0.2.10": "127.0.0.10", "192.0.2.11": "127.0.0.11"}


def _ledger(store: Store, campaign: str) -> pl.DataFrame:
    return store.query("SELECT * FROM send_ledger WHERE campaign_id = $c ORDER BY ledger_key", {"c": campaign})


def _events(store: Store, campaign: str) -> pl.DataFrame:
    return store.query("SELECT * FROM events WHERE campaign_id = $c AND source = 'workbench-send' ORDER BY ts",
                       {"c": campaign})


def test_campaign_reaches_the_sink_signed_traced_and_shaped(send_store, sink, world_resolver, small_world):
    people = contacts(small_world, 160)
    prepared = prepare(send_store, "news-e2e", segment=people, template="newsletter", stream="newsletter")
    assert prepared.plan.summary()["planned"] == 160
    shaping = Shaping().with_overrides({"gmail": {"connections": 2, "per_connection": 7}, "default": {"connections": 3}})
    config = send_config(send_store, sink, bind=BIND, shaping=shaping)
    result = send(send_store, prepared, config, record=MaildirRecord(sink.maildir))
    assert result.counts["sent"] == 160 and result.counts["failed"] == 0

    messages = maildir_messages(sink.maildir)
    assert len(messages) == 160
    ledger = _ledger(send_store, "news-e2e")
    by_mid = {r["message_id"]: r for r in ledger.iter_rows(named=True)}
    for data in messages:
        assert verify_message(data, world_resolver) == [True]
        msg = parse(data)
        row = by_mid[msg["Message-ID"]]
        assert msg["From"].addresses[0].domain == "news.brightmart.example"
        assert msg["Message-ID"].endswith("@news.brightmart.example>")
        assert msg["To"] == row["recipient"]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        uris = [u.strip().strip("<>") for u in msg["List-Unsubscribe"].split(",")]
        assert uris[0].startswith("mailto:unsubscribe+news-e2e=") and uris[1].startswith("https://t.brightmart.example/u/")
        fbid = parse_feedback_id(msg["Feedback-ID"])
        assert fbid is not None and (fbid.campaign_id, fbid.stream) == ("news-e2e", "newsletter")
        trace = parse_trace(msg["X-Workbench-Trace"], key=TRACE_KEY)
        assert trace is not None and trace.valid and trace.contact_id == row["contact_id"]
        verp = parse_verp(msg["Return-Path"], key=TRACE_KEY)
        assert verp is not None and verp.valid and verp.contact_id == row["contact_id"]
        assert msg["Return-Path"].strip("<>").endswith("@news.brightmart.example")
        peer = msg["Received"].split("(")[1].split(")")[0]
        assert peer == BIND[row["sending_ip"]]
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        html = msg.get_body(("html",)).get_content()
        assert "https://t.brightmart.example/o/" in html and "https://t.brightmart.example/c/" in html
        assert "shop.brightmart.example/p/" not in html  # every link goes through a click token

    assert set(ledger["status"]) == {"sent"}
    events = _events(send_store, "news-e2e")
    injected = events.filter(pl.col("event_type") == "injected")
    assert sorted(injected["message_id"]) == sorted(by_mid)
    assert set(injected["sending_domain"]) == {"news.brightmart.example"}
    assert set(injected["ip_pool"]) == {"dedicated"}
    assert set(injected["sending_ip"]) == {"192.0.2.10", "192.0.2.11"}
    assert injected["smtp_code"].to_list() == [250] * 160

    sessions = [json.loads(line) for line in sink.sessions_log.read_text().splitlines()]
    gmail = [s for s in sessions if set(s["domains"]) & {"gmail.com", "googlemail.com"}]
    assert gmail and max(s["messages"] for s in gmail) <= 7
    assert max(s["messages"] for s in sessions) <= 100
    assert _max_overlap(gmail) <= 2  # connections across both IPs


def _max_overlap(sessions: list[dict[str, float]]) -> int:
    points = sorted([(s["started"], 1) for s in sessions] + [(s["ended"], -1) for s in sessions])
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def test_a_rerun_sends_nothing_twice_and_a_new_contact_once(send_store, sink, small_world):
    people = contacts(small_world, 30)
    config = send_config(send_store, sink)
    first = send(send_store, prepare(send_store, "news-twice", segment=people.head(20), template="newsletter",
                                     stream="newsletter"), config)
    second = send(send_store, prepare(send_store, "news-twice", segment=people, template="newsletter",
                                      stream="newsletter"), config)
    assert (first.sent, second.sent) == (20, 10)
    ids = MaildirRecord(sink.maildir).message_ids()
    assert len(ids) == 30 and set(ids.values()) == {1}


def test_suppressed_contacts_are_skipped_at_plan_and_at_send_time(send_store, sink, small_world):
    people = contacts(small_world, 40)
    emails = people["email"].to_list()
    suppression.add(send_store, emails[0], by="test", reason="complaint")
    prepared = prepare(send_store, "news-supp", segment=people, template="newsletter", stream="newsletter")
    assert prepared.plan.summary()["suppressed"] == 1
    late = emails[35]

    def complain_on_first(recipient: str) -> Reply:
        # a complaint loaded by another process while the campaign runs (its own connection)
        if not _suppressed(send_store, late):
            other = Store(send_store.settings)
            suppression.add(other, late, by="fbl", reason="complaint")
            other.close()
        return Reply(250, "2.0.0 OK", "sent")

    transport = RecordingTransport(reply=complain_on_first)
    result = send(send_store, prepared, send_config(send_store, sink, batch_size=5), transport=transport)
    delivered = [recipient for _, _, recipient, _ in transport.sent]
    assert emails[0] not in delivered and late not in delivered
    assert len(delivered) == 38 and result.counts["suppressed"] == 1
    ledger = _ledger(send_store, "news-supp")
    assert ledger.filter(pl.col("recipient") == late)["status"][0] == "suppressed"
    dropped = _events(send_store, "news-supp").filter(pl.col("event_type") == "dropped")
    assert dropped["recipient"].to_list() == [late]


def _suppressed(store: Store, address: str) -> bool:
    other = Store(store.settings)
    try:
        return bool(other.scalar("SELECT count(*) FROM suppressions WHERE address = $a", {"a": address}))
    finally:
        other.close()


def test_unsubscribe_in_the_tracking_spool_stops_the_next_message(send_store, sink, small_world):
    from datetime import UTC, datetime

    from workbench.tracking.spool import Spool

    people = contacts(small_world, 10)
    victim = people["contact_id"][3]
    spool = Spool(send_store.settings.data_dir / "tracking" / "spool")
    spool.append({"ts": datetime.now(UTC).replace(tzinfo=None), "event_type": "unsubscribed", "event_id": "u1",
                  "contact_id": victim, "campaign_id": "news-other", "list_name": "newsletter"})
    spool.close()
    result = send(send_store, prepare(send_store, "news-spool", segment=people, template="newsletter",
                                      stream="newsletter"), send_config(send_store, sink))
    assert result.sent == 9 and result.counts["suppressed"] == 1
    assert _ledger(send_store, "news-spool").filter(pl.col("contact_id") == victim)["status"][0] == "suppressed"


def test_4xx_is_retried_5xx_bounces_and_suppresses(send_store, tmp_path, small_world):
    from workbench.sending import Sink

    people = contacts(small_world, 12)
    hard, soft = people["email"][0], people["email"][1]
    replies = {hard: (550, "5.1.1 <x>: Recipient address rejected: User unknown")}
    with Sink(tmp_path / "m" / "Maildir", replies=replies) as strict:
        result = send(send_store, prepare(send_store, "news-codes", segment=people, template="newsletter",
                                          stream="newsletter"), send_config(send_store, strict))
    assert result.counts["failed"] == 1 and result.sent == 11
    ledger = _ledger(send_store, "news-codes")
    failed = ledger.filter(pl.col("recipient") == hard)
    assert failed["status"][0] == "failed" and failed["smtp_code"][0] == 550
    bounced = _events(send_store, "news-codes").filter(pl.col("event_type") == "bounced")
    assert bounced["recipient"].to_list() == [hard] and bounced["bounce_class"][0] == "hard"
    assert suppression.is_suppressed(send_store, [hard])["suppressed"][0]
    assert soft  # delivered
    transport = RecordingTransport(reply=_defer_first(soft))
    people2 = people.slice(1, 2)  # the hard-bounced address is suppressed now
    retried = send(send_store, prepare(send_store, "news-defer", segment=people2, template="newsletter",
                                       stream="newsletter"), send_config(send_store, strict), transport=transport)
    assert retried.sent == 2 and retried.counts["deferred"] == 1
    row = _ledger(send_store, "news-defer").filter(pl.col("recipient") == soft)
    assert row["status"][0] == "sent" and row["attempts"][0] == 2
    kinds = _events(send_store, "news-defer").filter(pl.col("recipient") == soft)["event_type"].to_list()
    assert kinds == ["deferred", "injected"]


def _defer_first(address: str):
    seen: set[str] = set()

    def reply(recipient: str) -> Reply:
        if recipient == address and recipient not in seen:
            seen.add(recipient)
            return Reply(451, "4.7.1 Try again later", "rcpt")
        return Reply(250, "2.0.0 OK", "sent")

    return reply


def test_4xx_until_the_last_attempt_fails_the_message(send_store, sink, small_world):
    people = contacts(small_world, 1)
    transport = RecordingTransport(reply=lambda r: Reply(421, "4.7.0 [TSS04] Messages temporarily deferred", "rcpt"))
    result = send(send_store, prepare(send_store, "news-expire", segment=people, template="newsletter",
                                      stream="newsletter"), send_config(send_store, sink, max_attempts=3),
                  transport=transport)
    assert result.counts["failed"] == 1 and result.counts["deferred"] == 2
    row = _ledger(send_store, "news-expire").row(0, named=True)
    assert row["status"] == "failed" and row["attempts"] == 3 and "gave up after 3 attempts" in row["detail"]
    kinds = _events(send_store, "news-expire")["event_type"].to_list()
    assert kinds == ["deferred", "deferred", "bounced"]


def test_warm_up_caps_a_new_ip_and_overflows_to_the_warm_one(send_store, sink, small_world):
    send_store.execute("UPDATE ips SET warmup_start = DATE '2026-11-27' WHERE ip = '192.0.2.11'")
    send_store.execute("UPDATE ips SET warmup_start = NULL WHERE ip = '192.0.2.10'")
    config = send_config(send_store, sink, bind=BIND, warmup=WarmupSchedule((5, 10)),
                         today=__import__("datetime").date(2026, 11, 27))
    result = send(send_store, prepare(send_store, "news-warm", segment=contacts(small_world, 40), template="newsletter",
                                      stream="newsletter"), config)
    assert result.sent == 40
    per_ip = dict(_ledger(send_store, "news-warm").group_by("sending_ip").len().iter_rows())
    assert per_ip == {"192.0.2.11": 5, "192.0.2.10": 35}


def test_warm_up_holds_what_no_ip_can_take_today(send_store, sink, small_world):
    from datetime import date

    send_store.execute("UPDATE ips SET warmup_start = DATE '2026-11-27' WHERE pool = 'dedicated'")
    config = send_config(send_store, sink, bind=BIND, warmup=WarmupSchedule((3,)), today=date(2026, 11, 27))
    result = send(send_store, prepare(send_store, "news-held", segment=contacts(small_world, 10), template="newsletter",
                                      stream="newsletter"), config)
    assert result.sent == 6 and result.counts["held"] == 4
    held = _ledger(send_store, "news-held").filter(pl.col("status") == "planned")
    assert len(held) == 4 and all(d.startswith("held:") for d in held["detail"])
    assert held["next_attempt_at"].dt.date().unique().to_list() == [date.today() + __import__("datetime").timedelta(days=1)]


def test_provider_rate_is_paced(send_store, sink, small_world):
    """The token bucket's waits are recorded: 20 Gmail messages at 600 a minute (10/s, a
    burst of 10) make the sender wait about a second in all."""
    people = contacts(small_world).filter(pl.col("email").str.ends_with("@gmail.com")).head(20)
    shaping = Shaping().with_overrides({"gmail": {"per_minute": 600}})
    result = send(send_store, prepare(send_store, "news-rate", segment=people, template="newsletter",
                                      stream="newsletter"), send_config(send_store, sink, shaping=shaping))
    assert result.sent == 20
    injected = _events(send_store, "news-rate").sort("ts")["ts"].to_list()
    spread = (injected[-1] - injected[0]).total_seconds()
    assert spread >= 0.9  # ten over the burst at ten a second: the rule held (a lower bound, not a timing)


def test_recording_transport_counts_connections(send_store, sink, small_world):
    transport = RecordingTransport()
    shaping = Shaping({}, ProviderRule(connections=2, per_connection=3))
    result = send(send_store, prepare(send_store, "news-rec", segment=contacts(small_world, 12), template="newsletter",
                                      stream="newsletter"), send_config(send_store, sink, shaping=shaping),
                  transport=transport)
    assert result.sent == 12 and len(transport.sent) == 12
    assert transport.max_open <= 2 * len({r for r in _ledger(send_store, "news-rec")["mailbox_provider"]})
    assert transport.connections >= 12 // 3


def test_a_message_that_cannot_be_built_fails_alone(send_store, sink, small_world):
    people = contacts(small_world, 5).with_columns(first_name=pl.Series(["Ann", "Bob\r\nBcc: x@evil.example", "Cy",
                                                                         "Di", "Ed"]))
    template = prepare(send_store, "news-inject", segment=people, template="newsletter", stream="newsletter")
    result = send(send_store, template, send_config(send_store, sink))
    assert result.sent == 4 and result.counts["failed"] == 1
    row = _ledger(send_store, "news-inject").filter(pl.col("status") == "failed")
    assert "CR, LF" in row["detail"][0]
    for data in maildir_messages(sink.maildir):
        assert b"Bcc:" not in data.split(b"\r\n\r\n", 1)[0]


@pytest.mark.slow
def test_worker_processes_build_the_same_messages(send_store, sink, small_world, world_resolver):
    result = send(send_store, prepare(send_store, "news-workers", segment=contacts(small_world, 60), template="newsletter",
                                      stream="newsletter"), send_config(send_store, sink, workers=2, batch_size=20))
    assert result.sent == 60
    messages = maildir_messages(sink.maildir)
    assert len(messages) == 60 and all(verify_message(m, world_resolver) == [True] for m in messages)


def test_send_runs_are_recorded(send_store, sink, small_world):
    send(send_store, prepare(send_store, "news-runs", segment=contacts(small_world, 3), template="newsletter",
                             stream="newsletter"), send_config(send_store, sink))
    runs = send_store.query("SELECT * FROM send_runs WHERE campaign_id = 'news-runs'")
    assert len(runs) == 1 and runs["status"][0] == "finished" and runs["sent"][0] == 3
    counts = defaultdict(int)
    for status, n in send_store.query("SELECT status, count(*) FROM send_ledger GROUP BY 1").iter_rows():
        counts[status] += n
    assert counts["sent"] == 3


def test_campaign_is_registered_for_kpis_and_unsubscribe_scope(send_store, sink, small_world):
    send(send_store, prepare(send_store, "news-reg", segment=contacts(small_world, 2), template="newsletter",
                             stream="newsletter"), send_config(send_store, sink))
    row = send_store.query("SELECT * FROM campaigns WHERE campaign_id = 'news-reg'").row(0, named=True)
    assert row["stream"] == "newsletter" and row["sending_domain"] == "news.brightmart.example"
    assert Path(sink.maildir).is_dir()


def test_the_sinks_deliveries_load_as_events_and_kpis_see_them(send_store, sink, small_world):
    from workbench.analytics import kpis
    from workbench.store.loading import load_paths

    send(send_store, prepare(send_store, "news-kpi", segment=contacts(small_world, 25), template="newsletter",
                             stream="newsletter"), send_config(send_store, sink))
    summary = load_paths(send_store, [sink.deliveries_log])
    assert summary.rows_loaded == 25 and summary.files[0].format == "generic"
    delivered = send_store.query("SELECT e.message_id FROM events e WHERE e.event_type = 'delivered'")
    ledger = _ledger(send_store, "news-kpi")
    assert sorted(delivered["message_id"]) == sorted(ledger["message_id"])
    row = kpis(send_store, where={"campaign": "news-kpi"}, intervals=False).row(0, named=True)
    assert (row["sent"], row["delivered"], row["delivery_rate"]) == (25, 25, 1.0)
    assert load_paths(send_store, [sink.deliveries_log]).rows_loaded == 0
