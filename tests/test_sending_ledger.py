"""The ledger on its own: plan, claim (suppression re-check, warm-up holds), settle, recover."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from tests.sending_helpers import contacts
from workbench.audience import suppression
from workbench.sending import resolve_campaign
from workbench.sending.ledger import Outcome, claim, plan, plan_frame, progress, recover, settle

NOW = datetime(2026, 11, 27, 9, 0)


@pytest.fixture
def campaign(send_store):
    return resolve_campaign(send_store, "news-ledger", template="newsletter", stream="newsletter")


def _rows(store, status=None):
    sql = "SELECT * FROM send_ledger WHERE campaign_id = 'news-ledger'" + (" AND status = $s" if status else "")
    return store.query(sql + " ORDER BY ledger_key", {"s": status} if status else None)


def test_plan_frame_counts_providers_and_suppressions_without_writing(send_store, campaign, small_world):
    people = contacts(small_world, 50)
    suppression.add(send_store, people["email"][0], by="t", reason="complaint")
    suppression.add(send_store, people["email"][1], by="t", reason="unsubscribe", scope="promotions")  # another list
    result = plan_frame(send_store, campaign, people)
    assert result.summary() == {"contacts": 50, "planned": 49, "suppressed": 1, "invalid": 0, "already_planned": 0}
    assert result.by_provider()["planned"].sum() == 49 and "gmail" in result.by_provider()["mailbox_provider"].to_list()
    assert result.suppressed().row(0) == ("suppressed: complaint", 1)
    assert _rows(send_store).is_empty()
    ids = result.rows["message_id"].to_list()
    assert len(set(ids)) == 50 and all(i.endswith("@news.brightmart.example>") for i in ids)
    attrs = result.rows["attributes"][0]
    assert '"first_name"' in attrs and '"city"' in attrs


def test_plan_is_written_once_and_a_replan_only_adds(send_store, campaign, small_world):
    people = contacts(small_world, 20)
    first = plan(send_store, campaign, people.head(10), NOW)
    again = plan(send_store, campaign, people, NOW + timedelta(hours=1))
    assert first.summary()["planned"] == 10
    assert again.already == 10 and len(again.rows) == 10
    table = again.by_provider()
    assert table["planned"].sum() == 10 and table["already_planned"].sum() == 10 and table["suppressed"].sum() == 0
    rows = _rows(send_store)
    assert len(rows) == 20 and set(rows["status"]) == {"planned"}
    assert set(rows["planned_at"].to_list()) == {NOW, NOW + timedelta(hours=1)}
    assert set(rows["list_name"]) == {"newsletter"} and set(rows["ip_pool"]) == {"dedicated"}
    invalid = people.head(2).with_columns(email=pl.Series(["not-an-address", "x@nodot"]), contact_id=pl.Series(["Z1", "Z2"]))
    assert plan_frame(send_store, campaign, invalid).invalid == 2


def test_claim_rechecks_suppression_allocates_and_holds(send_store, campaign, small_world):
    people = contacts(small_world, 12)
    plan(send_store, campaign, people, NOW)
    suppression.add(send_store, people["email"][2], by="t", reason="complaint")
    ips = iter(["192.0.2.10", "", None, "192.0.2.11"] * 3)
    rows, dropped = claim(send_store, campaign, "run1", 6, NOW, allocate=lambda n: [next(ips) for _ in range(n)],
                          also_suppressed={people["contact_id"][4]}, hold_until=NOW + timedelta(days=1))
    assert [o.status for o in dropped] == ["suppressed", "suppressed"]
    assert {o.event for o in dropped} == {"dropped"}
    assert "unsubscribe (tracking spool)" in " ".join(o.detail or "" for o in dropped)
    assert len(rows) == 3  # 4 left after suppression, one of them held (no IP could take it)
    assert rows["attempts"].to_list() == [1, 1, 1]
    sending = _rows(send_store, "sending")
    assert len(sending) == 3 and set(sending["run_id"]) == {"run1"}
    assert sorted(sending["sending_ip"].drop_nulls()) == ["192.0.2.10", "192.0.2.11"]
    held = _rows(send_store, "planned").filter(pl.col("detail").str.starts_with("held:"))
    assert len(held) == 1 and held["next_attempt_at"][0] == NOW + timedelta(days=1)
    # the held message is not due before tomorrow; the others are
    later, _ = claim(send_store, campaign, "run1", 50, NOW, allocate=lambda n: ["192.0.2.10"] * n)
    assert len(later) == 12 - 3 - 2 - 1


def test_settle_records_outcomes_and_events(send_store, campaign, small_world):
    people = contacts(small_world, 3)
    plan(send_store, campaign, people, NOW)
    rows, _ = claim(send_store, campaign, "r", 3, NOW, allocate=lambda n: ["192.0.2.10"] * n)
    keys, mids = rows["ledger_key"].to_list(), rows["message_id"].to_list()
    settle(send_store, [
        Outcome(keys[0], mids[0], "sent", 250, "2.0.0 OK", event="injected", event_fields={"diagnostic": "250 ok", "sender": "b@x.example"}),
        Outcome(keys[1], mids[1], "planned", 451, "deferred", next_attempt_at=NOW + timedelta(minutes=1), event="deferred",
                event_fields={"diagnostic": "452 4.2.2 Mailbox full"}),
        Outcome(keys[2], mids[2], "failed", 550, "5.1.1", event="bounced", event_fields={"diagnostic": "550 5.1.1 unknown user"}),
    ], NOW, campaign)
    statuses = dict(_rows(send_store).select("ledger_key", "status").iter_rows())
    assert [statuses[k] for k in keys] == ["sent", "planned", "failed"]
    events = send_store.query("SELECT * FROM events WHERE source = 'workbench-send' ORDER BY event_type")
    assert events["event_type"].to_list() == ["bounced", "deferred", "injected"]
    assert set(events["sending_ip"]) == {"192.0.2.10"} and set(events["ip_pool"]) == {"dedicated"}
    assert set(events["sending_domain"]) == {"news.brightmart.example"}
    assert events.filter(pl.col("event_type") == "bounced")["bounce_class"][0] == "hard"
    assert events.filter(pl.col("event_type") == "deferred")["bounce_class"][0] == "soft"
    assert events["mailbox_provider"].null_count() == 0
    settle(send_store, [Outcome(keys[0], mids[0], "sent", 250, "2.0.0 OK", event="injected")], NOW, campaign)
    assert send_store.scalar("SELECT count(*) FROM events WHERE event_type = 'injected'") == 1  # no double


class _Record:
    def __init__(self, held):
        self.held = set(held)

    def delivered(self, ids):
        return {i for i in ids if i in self.held}

    def describe(self):
        return "test record"


def test_recover_with_and_without_a_record(send_store, campaign, small_world):
    plan(send_store, campaign, contacts(small_world, 4), NOW)
    rows, _ = claim(send_store, campaign, "dead", 4, NOW, allocate=lambda n: [""] * n)
    mids = rows["message_id"].to_list()
    assert recover(send_store, campaign, None, NOW) == {"reconciled": 0, "resent": 0, "uncertain": 4}
    assert len(_rows(send_store, "uncertain")) == 4
    counts = recover(send_store, campaign, _Record(mids[:3]), NOW)
    assert counts == {"reconciled": 3, "resent": 1, "uncertain": 0}
    assert len(_rows(send_store, "sent")) == 3 and len(_rows(send_store, "planned")) == 1
    assert send_store.scalar("SELECT count(*) FROM events WHERE event_type = 'injected'") == 3
    assert recover(send_store, campaign, _Record([]), NOW) == {"reconciled": 0, "resent": 0, "uncertain": 0}
    table = progress(send_store, "news-ledger")
    assert table["messages"].sum() == 4 and set(table["status"]) == {"sent", "planned"}
