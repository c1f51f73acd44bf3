"""The overview's helpers on the small world: window, worst campaigns, bounce reasons."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from conftest import WORLD_END

from workbench.analytics import bounce_reasons, report_window, worst_campaigns
from workbench.errors import ConfigError
from workbench.store import Store


def test_report_window_ends_with_the_last_mail(world_store: Store) -> None:
    first, last = report_window(world_store, days=28)
    assert last == WORLD_END and first == WORLD_END - timedelta(days=27)
    assert report_window(world_store, "2026-11-01", "2026-11-07") == (WORLD_END.replace(day=1), WORLD_END.replace(day=7))
    with pytest.raises(ConfigError):
        report_window(world_store, days=0)


def test_worst_campaigns_are_the_bad_ips_newsletters(world_store: Store) -> None:
    first, last = report_window(world_store, days=21)
    worst = worst_campaigns(world_store, first, last, n=3, min_delivered=50)
    assert len(worst) == 3 and worst["badness"].is_sorted(descending=True)
    assert set(worst["stream"].to_list()) == {"newsletter"}


def test_bounce_reasons_say_what_servers_said(world_store: Store) -> None:
    reasons = bounce_reasons(world_store, limit=50)
    assert reasons["events"].is_sorted(descending=True)
    gmail = reasons.filter((pl.col("provider") == "gmail") & (pl.col("event_type") == "deferred"))
    assert gmail.filter(pl.col("enhanced_status") == "4.7.28")["events"].sum() > 0
    assert gmail["example"].str.contains("Gmail").any()


def test_bounce_reasons_name_missing_values_as_the_feedback_views_do(store: Store) -> None:
    from datetime import datetime

    from workbench.analytics import feedback

    rows = pl.DataFrame({
        "ts": [datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 11), datetime(2026, 11, 20, 12)],
        "event_type": ["bounced", "bounced", "injected"], "message_id": ["m1", "m2", "m3"],
        "recipient": ["a@gmail.com", "b@gmail.com", "c@gmail.com"], "mailbox_provider": ["gmail"] * 3,
        "bounce_class": [None, "hard", None], "bounce_reason": [None, "userunknown", None],
        "source": ["test"] * 3, "source_file": ["t"] * 3, "source_key": [1, 2, 3],
    }, schema_overrides={"source_key": pl.UInt64})
    with store.writer() as con:
        con.register("f", rows.to_arrow())
        con.execute("INSERT INTO events BY NAME SELECT * FROM f")
        con.unregister("f")
    store.release(force=True)
    top = bounce_reasons(store, "2026-11-01", "2026-11-30")
    by_day = feedback.bounce_reasons(store, days=30, end="2026-11-30")
    assert set(zip(top["bounce_class"], top["bounce_reason"], strict=True)) == {("undetermined", "undefined"), ("hard", "userunknown")}
    assert set(zip(by_day["bounce_class"], by_day["reason"], strict=True)) == set(zip(top["bounce_class"], top["bounce_reason"], strict=True))
