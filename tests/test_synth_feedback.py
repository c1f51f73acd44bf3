"""The synthetic world's feedback mail: consistent with the send logs (same messages,
recipients, IPs), recognised by the classifier, linked and suppressed once loaded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from conftest import WORLD_END

from workbench.feedback import parse_message
from workbench.feedback.trace import parse_trace
from workbench.sources.mailbox import iter_messages
from workbench.store import Store
from workbench.synth import World, simulate
from workbench.synth.feedback import DEMO_TRACE_KEY, FBL_BY_MAIL, split


@pytest.fixture(scope="module")
def truth() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    _, _, msgs, evs, _ = simulate(60_000, seed=7, end=WORLD_END)
    logged, mailed = split(World(), msgs, evs, 7)
    return msgs, logged, mailed


@pytest.fixture(scope="module")
def reports(small_world: Path) -> list:  # type: ignore[type-arg]
    return [parse_message(item.data) for item in iter_messages(small_world / "mail" / "feedback.mbox")]


def test_split_moves_events_without_losing_any(truth: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    _, logged, mailed = truth
    _, _, _, evs, _ = simulate(60_000, seed=7, end=WORLD_END)
    moved = mailed.filter(pl.col("event_type").is_in(["complained", "unsubscribed"]))
    assert len(logged) + len(moved) == len(evs)
    # complaints by mail come only from providers whose feedback loop mails reports, about the newsletter
    complaints = mailed.filter(pl.col("event_type") == "complained")
    assert set(complaints["provider"]) <= set(FBL_BY_MAIL) and set(complaints["stream"]) <= {"newsletter"}
    assert set(mailed.filter(pl.col("event_type") == "unsubscribed")["provider"]) <= {"apple"}
    # asynchronous bounces come after a delivery of the same message
    bounced = mailed.filter(pl.col("event_type") == "bounced")
    delivered = logged.filter(pl.col("event_type") == "delivered").select("msgno", pl.col("ts").alias("delivered_at"))
    joined = bounced.join(delivered, on="msgno", how="left")
    assert joined["delivered_at"].null_count() == 0
    assert (joined["ts"] > joined["delivered_at"]).all()


def test_every_mail_is_recognised_as_what_it_is(truth: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], reports: list) -> None:  # type: ignore[type-arg]
    _, _, mailed = truth
    assert len(reports) == len(mailed)
    kinds = Counter(r.kind for r in reports)
    expected = Counter(mailed["event_type"].to_list())
    assert kinds["complaint"] == expected["complained"] + expected["unsubscribed"]
    assert kinds["bounce"] == expected["bounced"]
    assert kinds["autoreply"] == expected["autoreply"]
    assert kinds["none"] == 0


def test_bounces_carry_the_worlds_reasons(truth: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], reports: list) -> None:  # type: ignore[type-arg]
    _, _, mailed = truth
    want = Counter((r["recipient"], r["bounce_reason"], r["bounce_class"] == "hard")
                   for r in mailed.filter(pl.col("event_type") == "bounced").iter_rows(named=True))
    got = Counter((b.recipient, b.reason, b.hard) for r in reports for b in r.bounces if b.reason != "vacation")
    assert got == want


def test_complaints_name_our_messages_ips_and_recipients(truth: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], reports: list) -> None:  # type: ignore[type-arg]
    msgs, _, _ = truth
    by_id = {r["message_id"]: r for r in msgs.select("message_id", "email", "sending_ip", "campaign_id", "contact_id")
             .iter_rows(named=True)}
    complaints = [r for r in reports if r.kind == "complaint"]
    assert complaints
    for report in complaints:
        (c,) = report.complaints
        origin = report.origin
        if c.format == "apple-unsubscribe":
            assert origin.campaign_id and origin.contact_id  # from the VERP unsubscribe address
            continue
        sent = by_id[origin.message_id]
        assert c.source_ip == sent["sending_ip"]
        assert c.recipient_redacted or c.recipient == sent["email"]
        assert (origin.campaign_id, origin.contact_id) == (sent["campaign_id"], sent["contact_id"])
        trace = parse_trace(origin.trace or "", key=DEMO_TRACE_KEY)
        assert trace is not None and trace.valid is True


def test_loaded_world_links_every_report(world_store: Store) -> None:
    assert world_store.scalar("SELECT count(*) FROM complaints") > 0
    assert world_store.scalar("SELECT count(*) FROM bounces") > 0
    assert world_store.scalar("SELECT count(*) FROM complaints WHERE NOT linked") == 0
    assert world_store.scalar("SELECT count(*) FROM bounces WHERE NOT linked") == 0
    # their events have the send's IP, pool and campaign, like the send logs' events
    missing = world_store.scalar(
        "SELECT count(*) FROM events WHERE source = 'feedback-mail' AND (sending_ip IS NULL OR ip_pool IS NULL "
        "OR campaign_id IS NULL OR contact_id IS NULL)")
    assert missing == 0


def test_loaded_world_suppresses_complainers_and_bounced_addresses(world_store: Store) -> None:
    from workbench.audience.suppression import is_suppressed

    complainers = world_store.query("SELECT DISTINCT recipient FROM events WHERE event_type = 'complained'")["recipient"]
    hard = world_store.query("SELECT DISTINCT recipient FROM events WHERE bounce_class = 'hard'")["recipient"]
    assert is_suppressed(world_store, complainers.to_list(), list="newsletter")["suppressed"].all()
    assert is_suppressed(world_store, hard.to_list(), list="newsletter")["suppressed"].all()
    # the world never sends marketing to a complainer after the complaint (its order alerts go on)
    again = world_store.scalar(
        "WITH c AS (SELECT recipient, min(ts) AS at FROM events WHERE event_type = 'complained' GROUP BY 1) "
        "SELECT count(*) FROM events e JOIN c USING (recipient) WHERE e.event_type = 'injected' AND e.ts > c.at "
        "AND e.campaign_id NOT LIKE 'alert-%'")
    assert again == 0
