"""Bounce and complaint analytics: the pure rate functions, the queries on the small world
and on hand-made events, and the charts."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from workbench.analytics import feedback as fb
from workbench.analytics import feedback_charts as charts
from workbench.errors import ConfigError
from workbench.store import Store
from workbench.store.loading import load_paths


@pytest.mark.parametrize(
    ("complaints", "delivered", "rate"),
    [(0, 1000, 0.0), (1, 1000, 0.001), (3, 1000, 0.003), (5, 0, math.nan)],
)
def test_complaint_rate(complaints: int, delivered: int, rate: float) -> None:
    got = fb.complaint_rate(complaints, delivered)
    assert (math.isnan(got) and math.isnan(rate)) or got == pytest.approx(rate)


def test_complaint_rate_refuses_negative_counts() -> None:
    with pytest.raises(ValueError):
        fb.complaint_rate(-1, 10)


@pytest.mark.parametrize(
    ("rate", "band"),
    [(0.0, "ok"), (0.000999, "ok"), (0.001, "warning"), (0.00299, "warning"), (0.003, "over"), (0.5, "over"),
     (math.nan, "no data")],
)
def test_complaint_band(rate: float, band: str) -> None:
    assert fb.complaint_band(rate) == band


def test_complaint_band_refuses_negative_rates() -> None:
    with pytest.raises(ValueError):
        fb.complaint_band(-0.1)


def test_complaint_intervals_are_the_shared_wilson_interval() -> None:
    from workbench.analytics.stats import wilson_interval

    low, high = wilson_interval(4, 1000)
    assert (float(low), float(high)) == pytest.approx((0.0016, 0.0102), abs=1e-4)


# --- queries ----------------------------------------------------------------------------------------

def events(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"event_id": f"e{n}", **r}) + "\n" for n, r in enumerate(rows)))
    return path


@pytest.fixture
def hand_store(store: Store, tmp_path: Path) -> Store:
    rows: list[dict[str, object]] = []
    for n in range(2000):
        ip = "192.0.2.10" if n % 2 else "192.0.2.11"
        rows.append({"ts": f"2026-11-{2 + n % 7:02d}T10:00:00Z", "event_type": "delivered", "recipient": f"u{n}@gmail.com",
                     "message_id": f"m{n}", "campaign_id": "news-1", "sending_ip": ip})
    for n in range(4):  # 4 complaints on .11 (1000 deliveries): 0.4 %
        rows.append({"ts": "2026-11-05T12:00:00Z", "event_type": "complained", "recipient": f"u{2 * n}@gmail.com",
                     "message_id": f"m{2 * n}", "campaign_id": "news-1", "sending_ip": "192.0.2.11"})
    rows.append({"ts": "2026-11-05T12:30:00Z", "event_type": "complained", "recipient": "u0@gmail.com",
                 "message_id": "m0", "campaign_id": "news-1", "sending_ip": "192.0.2.11"})  # the same complaint twice
    rows += [
        {"ts": "2026-11-03T10:00:00Z", "event_type": "bounced", "recipient": "x1@gmail.com", "sending_ip": "192.0.2.10",
         "enhanced_status": "5.1.1", "smtp_code": 550, "diagnostic": "550 5.1.1 user unknown x1@gmail.com"},
        {"ts": "2026-11-04T10:00:00Z", "event_type": "bounced", "recipient": "x2@gmail.com", "sending_ip": "192.0.2.10",
         "enhanced_status": "5.1.1", "smtp_code": 550, "diagnostic": "550 5.1.1 user unknown x2@gmail.com"},
        {"ts": "2026-11-04T10:00:00Z", "event_type": "deferred", "recipient": "x3@yahoo.com", "sending_ip": "192.0.2.11",
         "enhanced_status": "4.7.0", "smtp_code": 421,
         "diagnostic": "421 4.7.0 [TSS04] Messages from 192.0.2.11 temporarily deferred due to unexpected volume or user complaints"},
    ]
    load_paths(store, [events(tmp_path, rows)])
    return store


def test_window_defaults_to_the_last_day_with_events(hand_store: Store) -> None:
    assert fb.window(hand_store, 7) == (datetime(2026, 11, 2), datetime(2026, 11, 9))
    assert fb.window(hand_store, 1, "2026-11-05") == (datetime(2026, 11, 5), datetime(2026, 11, 6))
    assert fb.window(hand_store, 2, date(2026, 11, 5)) == (datetime(2026, 11, 4), datetime(2026, 11, 6))
    with pytest.raises(ConfigError, match="days must be at least 1"):
        fb.window(hand_store, 0)
    with pytest.raises(ConfigError, match="end must be a date"):
        fb.window(hand_store, 3, "last week")


def test_window_of_an_empty_store_ends_yesterday(store: Store) -> None:
    _, stop = fb.window(store, 1)
    assert stop.date() == datetime.now().date()


def test_complaint_rates_by_ip(hand_store: Store) -> None:
    rates = fb.complaint_rates(hand_store, by="ip", period="month", days=30)
    rows = {r["dimension"]: r for r in rates.iter_rows(named=True)}
    assert rows["192.0.2.11"]["delivered"] == 1000 and rows["192.0.2.11"]["complaints"] == 4
    assert rows["192.0.2.11"]["rate"] == pytest.approx(0.004) and rows["192.0.2.11"]["band"] == "over"
    assert rows["192.0.2.10"]["rate"] == 0.0 and rows["192.0.2.10"]["band"] == "ok"
    from workbench.analytics.stats import wilson_interval

    low, high = wilson_interval(4, 1000)
    assert (rows["192.0.2.11"]["low"], rows["192.0.2.11"]["high"]) == pytest.approx((float(low), float(high)))
    assert fb.complaint_rates(hand_store, by="ip", period="month", min_delivered=1001).is_empty()


def test_complaint_rates_by_provider_and_period(hand_store: Store) -> None:
    weekly = fb.complaint_rates(hand_store, by="provider", period="week", days=30)
    assert set(weekly["dimension"]) == {"gmail"}
    assert weekly["delivered"].sum() == 2000 and weekly["complaints"].sum() == 4


def test_bounce_reasons_with_shares_and_deferrals(hand_store: Store) -> None:
    reasons = fb.bounce_reasons(hand_store, by="ip", period="month", days=30)
    assert reasons.select("dimension", "reason", "bounce_class", "bounces").rows() == [("192.0.2.10", "userunknown", "hard", 2)]
    assert reasons["share"].to_list() == [1.0]
    both = fb.bounce_reasons(hand_store, by="ip", period="month", days=30, deferred=True)
    assert set(both.select("dimension", "reason").rows()) == {("192.0.2.10", "userunknown"), ("192.0.2.11", "badreputation")}


@pytest.mark.parametrize(("by", "period"), [("nope", "day"), ("ip", "year")])
def test_unknown_dimension_or_period(hand_store: Store, by: str, period: str) -> None:
    with pytest.raises(ConfigError):
        fb.bounce_reasons(hand_store, by=by, period=period)
    with pytest.raises(ConfigError):
        fb.complaint_rates(hand_store, by=by, period=period)


def test_top_diagnostics_group_texts_that_differ_by_address(hand_store: Store) -> None:
    top = fb.top_diagnostics(hand_store, days=30, limit=5)
    assert top["pattern"].to_list()[0] == "550 5.1.1 user unknown <address>"
    assert top.row(0, named=True)["total"] == 2 and top.row(0, named=True)["bounced"] == 2
    assert "[tss04] messages from <ip> temporarily deferred" in top["pattern"].to_list()[1]
    with pytest.raises(ConfigError):
        fb.top_diagnostics(hand_store, limit=0)


def test_suppressed_per_day_and_linking(hand_store: Store) -> None:
    daily = fb.suppressed_per_day(hand_store, days=30)
    assert daily.filter(pl.col("reason") == "complaint")["suppressed"].sum() == 4
    assert daily.filter(pl.col("reason") == "hard-bounce")["suppressed"].sum() == 2
    assert fb.linking(hand_store, days=30).is_empty()  # no bounce mail in this store


def test_world_queries_run_and_agree(world_store: Store) -> None:
    reasons = fb.bounce_reasons(world_store, by="provider", period="week", days=90)
    total = world_store.scalar("SELECT count(*) FROM events WHERE event_type = 'bounced' AND ts >= $s",
                               {"s": fb.window(world_store, 90)[0]})
    assert reasons["bounces"].sum() == total
    assert reasons.group_by("period", "dimension").agg(pl.col("share").sum())["share"].to_list() == pytest.approx(
        [1.0] * reasons.select("period", "dimension").n_unique())
    rates = fb.complaint_rates(world_store, by="ip", period="week", days=90)
    assert rates["complaints"].sum() == world_store.scalar(
        "SELECT count(DISTINCT (message_id, recipient)) FROM events WHERE event_type = 'complained' AND ts >= $s",
        {"s": fb.window(world_store, 90)[0]})
    assert set(fb.linking(world_store, days=90)["link_method"]) <= {"message_id", "campaign", "recipient"}
    for by in fb.DIMENSIONS:
        assert not fb.bounce_reasons(world_store, by=by, days=90).is_empty()


# --- charts -----------------------------------------------------------------------------------------

def test_complaint_chart_draws_the_lines(hand_store: Store) -> None:
    fig = charts.complaint_chart(fb.complaint_rates(hand_store, by="ip", period="week", days=30))
    ys = sorted(shape.y0 for shape in fig.layout.shapes)
    assert ys == [fb.COMPLAINT_TARGET, fb.COMPLAINT_LIMIT]
    assert {trace.name for trace in fig.data} == {"192.0.2.10", "192.0.2.11"}
    assert fig.layout.yaxis.range[1] >= 0.004


def test_reasons_chart_panels_and_campaign_bars(hand_store: Store, world_store: Store) -> None:
    fig = charts.reasons_chart(fb.bounce_reasons(world_store, by="provider", period="week", days=90), top_dimensions=3,
                               top_reasons=2)
    assert {t.name for t in fig.data} <= set(fb.bounce_reasons(world_store, days=90)["reason"]) | {"other reasons"}
    assert len({t.name for t in fig.data}) <= 3
    campaign = charts.reasons_chart(fb.bounce_reasons(world_store, by="campaign", period="week", days=90))
    assert campaign.layout.xaxis.title.text == "dimension"


def test_empty_frames_give_an_empty_chart_that_says_so(store: Store) -> None:
    for fig in (charts.reasons_chart(fb.bounce_reasons(store)), charts.complaint_chart(fb.complaint_rates(store)),
                charts.suppressed_chart(fb.suppressed_per_day(store))):
        assert "nothing in this window" in fig.layout.title.text and not fig.data


def test_suppressed_chart(hand_store: Store) -> None:
    fig = charts.suppressed_chart(fb.suppressed_per_day(hand_store, days=30))
    assert {t.name for t in fig.data} == {"complaint", "hard-bounce"}


@pytest.mark.parametrize("by", fb.DIMENSIONS)
@pytest.mark.parametrize("period", ["day", "month"])
def test_every_dimension_and_period_on_the_world(world_store: Store, by: str, period: str) -> None:
    reasons = fb.bounce_reasons(world_store, by=by, period=period, days=90)
    rates = fb.complaint_rates(world_store, by=by, period=period, days=90)
    assert not reasons.is_empty() and not rates.is_empty()
    assert reasons["bounces"].min() >= 1  # type: ignore[operator]
    if period == "month":
        assert all(p.day == 1 for p in reasons["period"].to_list())
    assert set(rates["band"]) <= {"ok", "warning", "over", "no data"}
    assert (rates["low"] <= rates["high"]).all()


def test_top_diagnostics_on_the_world_mask_ips_and_keep_codes(world_store: Store) -> None:
    top = fb.top_diagnostics(world_store, days=90, limit=10)
    patterns = top["pattern"].to_list()
    assert len(patterns) == len(set(patterns)) == 10
    assert not any(re.search(r"\d+\.\d+\.\d+\.\d+", p) for p in patterns)
    assert any(re.search(r"\b[45]\.\d\.\d+\b", p) for p in patterns)
    assert (top["total"] == top["bounced"] + top["deferred"]).all()
    assert top["total"].to_list() == sorted(top["total"].to_list(), reverse=True)


def test_linking_of_the_world(world_store: Store) -> None:
    links = fb.linking(world_store, days=120)  # the whole world (its mail trails past its 90 days)
    assert set(links["kind"]) == {"bounce", "complaint"}
    assert links["n"].sum() == world_store.scalar("SELECT count(*) FROM bounces") + world_store.scalar(
        "SELECT count(*) FROM complaints")


def test_reasons_chart_groups_the_tail_of_reasons() -> None:
    frame = pl.DataFrame({
        "period": [date(2026, 11, 2)] * 4 + [date(2026, 11, 9)] * 4,
        "dimension": ["gmail", "gmail", "yahoo", "yahoo"] * 2,
        "reason": ["userunknown", "blocked", "mailboxfull", "expired"] * 2,
        "bounce_class": ["hard", "block", "soft", "soft"] * 2,
        "bounces": [5, 1, 3, 2, 6, 1, 2, 2],
        "share": [0.0] * 8,
    })
    fig = charts.reasons_chart(frame, top_dimensions=1, top_reasons=1)
    assert {t.name for t in fig.data} == {"userunknown", "other reasons"}
    assert sum(sum(t.y) for t in fig.data) == 13  # gmail only: 5 + 1 + 6 + 1


def test_complaint_chart_keeps_the_top_dimensions_by_deliveries() -> None:
    frame = pl.DataFrame({
        "period": [date(2026, 11, 2)] * 3, "dimension": ["a", "b", "c"], "delivered": [1000, 10, 500],
        "complaints": [1, 0, 5], "rate": [0.001, 0.0, 0.01], "low": [0.0] * 3, "high": [0.1] * 3,
        "band": ["warning", "ok", "over"],
    })
    fig = charts.complaint_chart(frame, top=2)
    assert [t.name for t in fig.data] == ["a", "c"]
    assert fig.layout.yaxis.range[1] == pytest.approx(0.0115)
