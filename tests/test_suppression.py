"""Suppression: complaints, hard bounces, soft-bounce runs and unsubscribes suppress; a person
adds and lifts with a reason; reads are vectorised; events from any source feed it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import FIXTURES

from workbench.audience import suppression
from workbench.audience.suppression import (
    add,
    explain,
    is_suppressed,
    lift,
    list_suppressions,
    policy,
    set_policy,
    suppressed_addresses,
    sync,
)
from workbench.errors import ConfigError, StoreError
from workbench.store import Store
from workbench.store.loading import load_paths

BOUNCES = FIXTURES / "bounces"
INFRA = """kind: workbench/infrastructure
version: 1
campaigns:
  - {campaign_id: news-1, name: Newsletter 1, stream: newsletter}
  - {campaign_id: news-2, name: Newsletter 2, stream: newsletter}
  - {campaign_id: promo-1, name: Promo 1, stream: promotions}
"""


def event(n: int, ts: str, kind: str, rcpt: str, **more: object) -> dict[str, object]:
    return {"ts": ts, "event_type": kind, "recipient": rcpt, "event_id": f"e{n}", "message_id": f"m{n}@x", **more}


def load_events(store: Store, tmp_path: Path, rows: list[dict[str, object]], name: str = "events.jsonl") -> None:
    infra = tmp_path / "infrastructure.yaml"
    if not infra.exists():
        infra.write_text(INFRA)
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    load_paths(store, [infra, path])


def flags(store: Store, addresses: list[str], list: str | None = None) -> list[bool]:
    return is_suppressed(store, addresses, list=list)["suppressed"].to_list()


# --- what suppresses ---------------------------------------------------------------------------------

def test_a_loaded_complaint_stops_the_next_send_to_that_contact(store: Store, tmp_path: Path) -> None:
    sends = [event(1, "2026-11-14T09:57:59Z", "injected", "angry@example.com", campaign_id="promo-1", contact_id="C1"),
             event(2, "2026-11-14T09:57:59Z", "injected", "calm@example.com", campaign_id="promo-1", contact_id="C2")]
    load_events(store, tmp_path, sends)
    audience = ["angry@example.com", "calm@example.com"]
    assert flags(store, audience, "newsletter") == [False, False]
    mail = tmp_path / "mail"
    mail.mkdir()
    shutil.copy(BOUNCES / "amazonses-sns-complaint.eml", mail)
    load_paths(store, [mail])  # suppression follows every load
    result = is_suppressed(store, audience, list="newsletter")
    assert result["suppressed"].to_list() == [True, False]
    assert result.row(0, named=True)["reason"] == "complaint" and result.row(0, named=True)["scope"] == "global"
    # the next send plans only those not suppressed, for any list and for transactional mail
    assert flags(store, audience, None) == [True, False]
    assert flags(store, audience, "promotions") == [True, False]
    # the contact is suppressed too, under another address
    by_contact = is_suppressed(store, ["new-address@example.com"], list="newsletter", contact_ids=["C1"])
    assert by_contact["suppressed"].to_list() == [True]


def test_repeated_events_suppress_an_address_once(store: Store, tmp_path: Path) -> None:
    same = {"campaign_id": "promo-1", "message_id": "m1@x"}
    load_events(store, tmp_path, [
        event(1, "2026-11-03T10:00:00Z", "complained", "a@example.com", **same),
        event(2, "2026-11-03T10:05:00Z", "complained", "a@example.com", **same),  # the same complaint, another feed
        event(3, "2026-11-04T10:00:00Z", "unsubscribed", "a@example.com", campaign_id="news-1"),  # covered by global
    ])
    rows = list_suppressions(store)
    assert rows.select("address", "reason", "scope").rows() == [("a@example.com", "complaint", "global")]
    assert str(rows["created_at"][0]) == "2026-11-03 10:00:00"


def test_hard_bounce_suppresses_the_address_globally(store: Store, tmp_path: Path) -> None:
    load_events(store, tmp_path, [
        event(1, "2026-11-01T10:00:00Z", "bounced", "gone@example.com", enhanced_status="5.1.1", smtp_code=550,
              diagnostic="550 5.1.1 user unknown", campaign_id="news-1"),
        event(2, "2026-11-01T10:00:00Z", "bounced", "full@example.com", enhanced_status="5.2.2", smtp_code=552,
              diagnostic="552 5.2.2 mailbox full", campaign_id="news-1"),
    ])
    assert flags(store, ["gone@example.com", "full@example.com"], "newsletter") == [True, False]
    (row,) = list_suppressions(store).iter_rows(named=True)
    assert (row["address"], row["reason"], row["scope"], row["source"]) == ("gone@example.com", "hard-bounce", "global", "events")
    assert "userunknown" in row["detail"] and "5.1.1" in row["detail"]


def soft(n: int, day: int, rcpt: str = "full@example.com", kind: str = "bounced") -> dict[str, object]:
    extra = {"enhanced_status": "5.2.2", "smtp_code": 552, "diagnostic": "552 5.2.2 mailbox full"} if kind == "bounced" else {}
    return event(n, f"2026-11-{day:02d}T10:00:00Z", kind, rcpt, campaign_id="news-1", **extra)


def test_soft_bounces_suppress_after_a_run_within_the_window(store: Store, tmp_path: Path) -> None:
    load_events(store, tmp_path, [soft(1, 1), soft(2, 5)])
    assert flags(store, ["full@example.com"]) == [False]
    load_events(store, tmp_path, [soft(3, 9)], "more.jsonl")
    assert flags(store, ["full@example.com"]) == [True]
    (row,) = list_suppressions(store).iter_rows(named=True)
    assert row["reason"] == "soft-bounce" and row["detail"].startswith("3 soft bounces in a row within 30 days")


def test_a_delivery_breaks_the_run(store: Store, tmp_path: Path) -> None:
    load_events(store, tmp_path, [soft(1, 1), soft(2, 3), soft(3, 4, kind="delivered"), soft(4, 6), soft(5, 8)])
    assert flags(store, ["full@example.com"]) == [False]


def test_soft_bounces_too_far_apart_do_not_count(store: Store, tmp_path: Path) -> None:
    rows = [soft(1, 1), soft(2, 12), soft(3, 28)]
    set_policy(store, soft_days=20)
    load_events(store, tmp_path, rows)
    assert flags(store, ["full@example.com"]) == [False]


def test_the_soft_policy_is_configurable(store: Store, tmp_path: Path) -> None:
    assert policy(store) == {"soft_count": 3, "soft_days": 30}
    assert set_policy(store, soft_count=2) == {"soft_count": 2, "soft_days": 30}
    load_events(store, tmp_path, [soft(1, 1), soft(2, 2)])
    assert flags(store, ["full@example.com"]) == [True]
    with pytest.raises(ConfigError, match="soft_days must be at least 1"):
        set_policy(store, soft_days=0)


def test_unsubscribe_suppresses_the_list_only(store: Store, tmp_path: Path) -> None:
    load_events(store, tmp_path, [
        event(1, "2026-11-02T10:00:00Z", "unsubscribed", "leaver@example.com", campaign_id="news-1"),
        event(2, "2026-11-02T10:00:00Z", "unsubscribed", "unknown-list@example.com", campaign_id="nope-9"),
    ])
    both = ["leaver@example.com", "unknown-list@example.com"]
    assert flags(store, both, "newsletter") == [True, True]
    assert flags(store, both, "promotions") == [False, True]
    assert flags(store, both, None) == [False, True]  # only global suppressions stop transactional mail
    scopes = dict(list_suppressions(store).select("address", "scope").iter_rows())
    assert scopes == {"leaver@example.com": "newsletter", "unknown-list@example.com": "global"}


def test_send_log_events_feed_suppression_after_a_load(store: Store, tmp_path: Path) -> None:
    # a complaint and an unsubscribe logged by an ESP, a hard bounce logged by an MTA
    load_events(store, tmp_path, [
        event(1, "2026-11-03T10:00:00Z", "complained", "a@example.com", campaign_id="promo-1", contact_id="C10"),
        event(2, "2026-11-03T10:00:00Z", "unsubscribed", "b@example.com", campaign_id="promo-1"),
        event(3, "2026-11-03T10:00:00Z", "bounced", "c@example.com", enhanced_status="5.1.1", smtp_code=550,
              diagnostic="550 5.1.1 <c@example.com>: Recipient address rejected: User unknown"),
        event(4, "2026-11-03T10:00:00Z", "opened", "d@example.com"),
    ])
    got = dict(list_suppressions(store).select("address", "reason").iter_rows())
    assert got == {"a@example.com": "complaint", "b@example.com": "unsubscribe", "c@example.com": "hard-bounce"}
    assert sync(store) == 0  # nothing new: idempotent


# --- people ------------------------------------------------------------------------------------------

def test_lifting_needs_who_and_why_and_sticks(store: Store, tmp_path: Path) -> None:
    rows = [event(1, "2026-11-01T10:00:00Z", "bounced", "gone@example.com", enhanced_status="5.1.1", smtp_code=550,
                  diagnostic="550 5.1.1 user unknown")]
    load_events(store, tmp_path, rows)
    with pytest.raises(ConfigError, match="needs --by NAME and --reason"):
        lift(store, "gone@example.com", by="", reason="typo fixed")
    with pytest.raises(ConfigError):
        lift(store, "gone@example.com", by="ana", reason="  ")
    assert lift(store, " <Gone@Example.com> ", by="ana", reason="the customer fixed the mailbox") == 1
    assert flags(store, ["gone@example.com"]) == [False]
    assert sync(store) == 0  # the same event does not suppress again
    (row,) = list_suppressions(store, include_lifted=True).iter_rows(named=True)
    assert (row["lifted_by"], row["lift_reason"]) == ("ana", "the customer fixed the mailbox")
    assert list_suppressions(store).is_empty()
    # a bounce from before the lift (a late log) does not undo it; a new one suppresses again
    load_events(store, tmp_path, [event(2, "2026-11-02T10:00:00Z", "bounced", "gone@example.com",
                                        enhanced_status="5.1.1", smtp_code=550, diagnostic="550 5.1.1 user unknown")],
                "late.jsonl")
    assert flags(store, ["gone@example.com"]) == [False]
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_events(store, tmp_path, [event(3, later, "bounced", "gone@example.com", enhanced_status="5.1.1", smtp_code=550,
                                        diagnostic="550 5.1.1 user unknown")], "again.jsonl")
    assert flags(store, ["gone@example.com"]) == [True]
    assert lift(store, "nobody@example.com", by="ana", reason="x") == 0


def test_manual_add_with_scope_and_lift_by_scope(store: Store) -> None:
    add(store, "Spam.Trap@Example.com", by="ana", note="known spam trap")
    add(store, "vip@example.com", by="ana", scope="promotions", note="asked by phone")
    assert flags(store, ["spam.trap@example.com", "vip@example.com"], "promotions") == [True, True]
    assert flags(store, ["spam.trap@example.com", "vip@example.com"], "newsletter") == [True, False]
    assert lift(store, "vip@example.com", by="bo", reason="wants offers again", scope="newsletter") == 0
    assert lift(store, "vip@example.com", by="bo", reason="wants offers again", scope="promotions") == 1
    row = list_suppressions(store, reason="manual").row(0, named=True)
    assert (row["address"], row["created_by"], row["detail"], row["source"]) == ("spam.trap@example.com", "ana",
                                                                                 "known spam trap", "manual")
    with pytest.raises(ConfigError, match="give an address"):
        add(store, "not-an-address", by="ana")
    with pytest.raises(ConfigError):
        add(store, "x@example.com", by=" ")


def test_explain_names_the_event(store: Store, tmp_path: Path) -> None:
    load_events(store, tmp_path, [
        event(1, "2026-11-01T10:00:00Z", "complained", "a@example.com", campaign_id="promo-1", sending_ip="192.0.2.10"),
    ])
    add(store, "a@example.com", by="ana", note="also by hand")
    rows = explain(store, "A@example.com")
    assert rows["reason"].to_list() == ["complaint", "manual"]
    first = rows.row(0, named=True)
    assert (first["event_type"], first["campaign_id"], first["sending_ip"]) == ("complained", "promo-1", "192.0.2.10")
    assert first["event_file"].endswith("events.jsonl")
    assert explain(store, "nobody@example.com").is_empty()


# --- reads ---------------------------------------------------------------------------------------------

def test_is_suppressed_is_vectorised_ordered_and_normalises(store: Store) -> None:
    add(store, "x@example.com", by="ana")
    asked = [f"user{n}@example.com" for n in range(20_000)] + [" <X@Example.COM> ", "x@example.com", ""]
    result = is_suppressed(store, asked)
    assert result["address"].to_list() == asked
    assert result["suppressed"].sum() == 2
    assert result["suppressed"].to_list()[-3:] == [True, True, False]
    assert result.schema["since"] == pl.Datetime("us")


def test_is_suppressed_edge_cases(store: Store) -> None:
    empty = is_suppressed(store, [])
    assert empty.is_empty() and empty.columns == ["address", "suppressed", "scope", "reason", "since", "suppression_id"]
    with pytest.raises(StoreError, match="one entry per address"):
        is_suppressed(store, ["a@example.com"], contact_ids=["C1", "C2"])


def test_suppressed_addresses_per_list(store: Store) -> None:
    add(store, "g@example.com", by="ana")
    add(store, "n@example.com", by="ana", scope="newsletter")
    add(store, "p@example.com", by="ana", scope="promotions")
    assert suppressed_addresses(store, "newsletter")["address"].to_list() == ["g@example.com", "n@example.com"]
    assert suppressed_addresses(store)["address"].to_list() == ["g@example.com"]
    assert set(suppressed_addresses(store, "promotions").columns) == {"address", "contact_id", "scope", "reason", "since"}


def test_the_module_documents_its_rules() -> None:
    doc = suppression.__doc__ or ""
    for word in ("complaint", "hard bounce", "soft", "unsubscribe", "lift"):
        assert word in doc


def test_a_complaint_naming_only_the_contact_suppresses_its_address(store: Store, tmp_path: Path) -> None:
    sends = [event(1, "2026-11-01T10:00:00Z", "injected", "old@example.com", campaign_id="news-1", contact_id="C5"),
             event(2, "2026-11-08T10:00:00Z", "injected", "new@example.com", campaign_id="news-2", contact_id="C5")]
    complaint = {"ts": "2026-11-09T10:00:00Z", "event_type": "complained", "contact_id": "C5", "campaign_id": "news-2",
                 "event_id": "c1"}
    load_events(store, tmp_path, [*sends, complaint])
    (row,) = list_suppressions(store).iter_rows(named=True)
    assert (row["address"], row["contact_id"], row["reason"]) == ("new@example.com", "C5", "complaint")
    # the contact is suppressed under any of its addresses
    result = is_suppressed(store, ["old@example.com", "other@example.com"], contact_ids=["C5", None])
    assert result["suppressed"].to_list() == [True, False]


def test_sync_after_a_policy_change_applies_to_old_events(store: Store, tmp_path: Path) -> None:
    load_events(store, tmp_path, [soft(1, 1), soft(2, 2)])
    assert flags(store, ["full@example.com"]) == [False]
    set_policy(store, soft_count=2)
    assert sync(store) == 1
    assert flags(store, ["full@example.com"]) == [True]
