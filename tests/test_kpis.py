"""KPIs: counts from a hand-built store match the definitions; slices, filters, gaps; the
synthetic world's machine opens and clicks."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from workbench.analytics import COUNTS, RATES, add_rates, kpis
from workbench.analytics.dimensions import (
    DIMENSIONS,
    Dimension,
    register_dimension,
    render,
    resolve,
)
from workbench.errors import ConfigError
from workbench.store import Store, load_sql

T0 = datetime(2026, 3, 2, 9, 0)  # a Monday


def _events(rows: list[tuple]) -> pl.DataFrame:
    cols = ["ts", "event_type", "message_id", "campaign_id", "mailbox_provider", "sending_ip", "ip_pool",
            "sending_domain", "bounce_class", "is_machine"]
    frame = pl.DataFrame(rows, schema=cols, orient="row")
    return frame.with_columns(source=pl.lit("test"), source_file=pl.lit("t"), source_key=pl.int_range(0, len(frame)).cast(pl.UInt64))


def _load(store: Store, frame: pl.DataFrame) -> None:
    with store.writer() as con:
        con.register("f", frame.to_arrow())
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO events ({cols}) SELECT {cols} FROM f")
        con.unregister("f")
    store.release(force=True)


def _day(d: int, h: int = 0) -> datetime:
    return T0.replace(day=T0.day + d, hour=9 + h)


@pytest.fixture
def tiny(store: Store) -> Store:
    """Five messages with known fates, on two days, two providers, two IPs."""
    ip1, ip2 = "192.0.2.1", "192.0.2.2"
    rows = [
        # m1 gmail ip1: delivered, opened by a person twice and by MPP, clicked once by a scanner, complained next day
        (_day(0), "injected", "m1", "c1", "gmail", None, None, "news.ex", None, None),
        (_day(0, 1), "delivered", "m1", "c1", "gmail", ip1, "dedicated", "news.ex", None, None),
        (_day(0, 2), "opened", "m1", "c1", "gmail", None, None, None, None, False),
        (_day(0, 3), "opened", "m1", "c1", "gmail", None, None, None, None, False),
        (_day(0, 2), "opened", "m1", "c1", "gmail", None, None, None, None, True),
        (_day(0, 1), "clicked", "m1", "c1", "gmail", None, None, None, None, True),
        (_day(1, 5), "complained", "m1", "c1", "gmail", None, None, None, None, None),
        # m2 gmail ip1: deferred twice then delivered, opened only by MPP
        (_day(0), "injected", "m2", "c1", "gmail", ip1, "dedicated", "news.ex", None, None),
        (_day(0, 1), "deferred", "m2", "c1", "gmail", ip1, "dedicated", "news.ex", "soft", None),
        (_day(0, 2), "deferred", "m2", "c1", "gmail", ip1, "dedicated", "news.ex", "soft", None),
        (_day(0, 3), "delivered", "m2", "c1", "gmail", ip1, "dedicated", "news.ex", None, None),
        (_day(0, 4), "opened", "m2", "c1", "gmail", None, None, None, None, True),
        # m3 yahoo ip2: hard bounce
        (_day(0), "injected", "m3", "c1", "yahoo", ip2, "dedicated", "news.ex", None, None),
        (_day(0, 1), "bounced", "m3", "c1", "yahoo", ip2, "dedicated", "news.ex", "hard", None),
        # m4 yahoo ip2 next day: block bounce
        (_day(1), "injected", "m4", "c2", "yahoo", ip2, "dedicated", "news.ex", None, None),
        (_day(1, 1), "bounced", "m4", "c2", "yahoo", ip2, "dedicated", "news.ex", "block", None),
        # m5 yahoo ip2 next day: delivered, human click (undecided is_machine counts as human), unsubscribed
        (_day(1), "injected", "m5", "c2", "yahoo", ip2, "dedicated", "news.ex", None, None),
        (_day(1, 1), "delivered", "m5", "c2", "yahoo", ip2, "dedicated", "news.ex", None, None),
        (_day(1, 2), "opened", "m5", "c2", "yahoo", None, None, None, None, False),
        (_day(1, 2), "clicked", "m5", "c2", "yahoo", None, None, None, None, None),
        (_day(1, 3), "unsubscribed", "m5", "c2", "yahoo", None, None, None, None, None),
    ]
    _load(store, _events(rows))
    return store


def test_headline_counts_follow_the_definitions(tiny: Store) -> None:
    row = kpis(tiny).row(0, named=True)
    assert row["sent"] == 5 and row["delivered"] == 3 and row["bounced"] == 2
    assert (row["hard_bounced"], row["block_bounced"], row["soft_bounced"]) == (1, 1, 0)
    assert (row["deferred"], row["deferrals"]) == (1, 2)
    assert (row["opens"], row["unique_opens"], row["human_opens"], row["human_unique_opens"]) == (5, 3, 3, 2)
    assert (row["clicks"], row["unique_clicks"], row["human_unique_clicks"]) == (2, 2, 1)
    assert (row["complaints"], row["unsubscribes"]) == (1, 1)
    assert row["delivery_rate"] == pytest.approx(3 / 5)
    assert row["hard_bounce_rate"] == pytest.approx(1 / 5)
    assert row["open_rate"] == pytest.approx(3 / 3)
    assert row["human_open_rate"] == pytest.approx(2 / 3)
    assert row["click_to_open_rate"] == pytest.approx(2 / 3)
    assert row["human_click_to_open_rate"] == pytest.approx(1 / 2)
    assert row["complaint_rate"] == pytest.approx(1 / 3)
    assert row["complaint_rate_lo"] < 1 / 3 < row["complaint_rate_hi"]


def test_engagement_counts_on_the_send_day(tiny: Store) -> None:
    daily = kpis(tiny, by="day")
    first = daily.filter(pl.col("day") == _day(0).date()).row(0, named=True)
    # m1's complaint came on day 1 but belongs to day 0's send
    assert first["sent"] == 3 and first["complaints"] == 1
    assert kpis(tiny, by="day", start=_day(1).date()).filter(pl.col("sent") > 0)["complaints"].sum() == 0


def test_dimensions_come_from_any_event_of_the_message(tiny: Store) -> None:
    by_ip = kpis(tiny, by=["ip"])
    # m1's injection has no IP; its delivery does
    assert by_ip.filter(pl.col("ip") == "192.0.2.1")["sent"].item() == 2
    assert by_ip.filter(pl.col("ip").is_null()).is_empty()


def test_filters_are_bound_values(tiny: Store) -> None:
    gmail = kpis(tiny, by="provider", where={"provider": "gmail"})
    assert gmail["provider"].to_list() == ["gmail"]
    hostile = kpis(tiny, where={"provider": "gmail' OR 1=1 --"})
    assert hostile["sent"].item() == 0
    both = kpis(tiny, where={"campaign": ["c1", "c2"], "ip": ["192.0.2.2", None]})
    assert both["sent"].item() == 3


def test_empty_slice_has_null_rates_not_errors(tiny: Store) -> None:
    row = kpis(tiny, start="2020-01-01", end="2020-01-31").row(0, named=True)
    assert row["sent"] == 0
    for r in RATES:
        assert row[r.name] is None and row[f"{r.name}_lo"] is None


def test_time_series_gaps_are_filled(tiny: Store) -> None:
    frame = kpis(tiny, by=["provider", "day"], start=_day(0).date(), end=_day(4).date())
    assert len(frame) == 2 * 5
    assert frame.filter(pl.col("day") == _day(3).date())["sent"].to_list() == [0, 0]
    assert frame.filter(pl.col("day") == _day(3).date())["delivery_rate"].null_count() == 2
    weekly = kpis(tiny, by="week", start="2026-02-20", end=_day(1).date())
    assert weekly["week"].to_list()[0].weekday() == 0 and len(weekly) == 3
    campaigns = kpis(tiny, by=["campaign", "day"], start=_day(0).date(), end=_day(4).date())
    assert len(campaigns) == 2  # a campaign's silence is not a gap


@pytest.mark.parametrize("by", ["nope", "provider,provider", "day,week", ["ip; DROP TABLE events"]])
def test_unknown_or_bad_dimensions_are_refused(tiny: Store, by: str | list[str]) -> None:
    with pytest.raises(ConfigError):
        kpis(tiny, by=by)


def test_bad_dates_are_refused(tiny: Store) -> None:
    with pytest.raises(ConfigError, match="not a date"):
        kpis(tiny, start="yesterday")
    with pytest.raises(ConfigError, match="before it starts"):
        kpis(tiny, start="2026-03-05", end="2026-03-01")


def test_every_dimension_renders_against_the_schema(store: Store) -> None:
    for name in DIMENSIONS:
        by = [name] if name in ("day", "week", "month") else [name, "day"]
        frame = kpis(store, by=by, start="2026-01-01", end="2026-01-02")
        assert name in frame.columns


def test_render_places_whitelisted_sql_only() -> None:
    sql, params = render(load_sql("kpi_counts"), resolve("provider,day"), {"ip": ["a", "b"]})
    assert "m.mailbox_provider AS provider" in sql and "GROUP BY 1, 2" in sql
    assert params == {"f0_0": "a", "f0_1": "b"} and "'a'" not in sql
    # only the message columns the slice reads are folded
    assert "max(mailbox_provider) AS mailbox_provider" in sql and "max(sending_ip) AS sending_ip" in sql
    assert "max(recipient_domain)" not in sql and "max(campaign_id)" not in sql
    sql, _ = render(load_sql("kpi_counts"), resolve("stream"))
    assert "max(campaign_id) AS campaign_id" in sql and "LEFT JOIN campaigns" in sql


def test_a_registered_dimension_is_usable(tiny: Store) -> None:
    register_dimension(Dimension("sending_hour", "CAST(extract(hour FROM m.sent_at) AS INTEGER)", description="hour"))
    try:
        frame = kpis(tiny, by="sending_hour")
        assert frame["sent"].sum() == 5
        with pytest.raises(ConfigError):
            register_dimension(Dimension("sending_hour", "1"))
        with pytest.raises(ConfigError):
            register_dimension(Dimension("Bad Name", "1"))
        with pytest.raises(ConfigError):
            register_dimension(Dimension("segment", "s.segment", ("segments",)))
    finally:
        DIMENSIONS.pop("sending_hour", None)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"sent": 0, "delivered": 0, "unique_opens": 0}, {"delivery_rate": None, "open_rate": None}),
        ({"sent": 10, "delivered": 8, "unique_opens": 2}, {"delivery_rate": 0.8, "open_rate": 0.25}),
        ({"sent": 1000, "delivered": 1000, "complaints": 3}, {"complaint_rate": 0.003, "bounce_rate": 0.0}),
    ],
)
def test_add_rates_table(counts: dict[str, int], expected: dict[str, float | None]) -> None:
    frame = pl.DataFrame({c: [counts.get(c, 0)] for c in COUNTS})
    row = add_rates(frame).row(0, named=True)
    for name, value in expected.items():
        assert row[name] == (None if value is None else pytest.approx(value))


def test_rate_definitions_name_counts() -> None:
    for r in RATES:
        assert r.numerator in COUNTS and r.denominator in COUNTS and r.doc


def test_machine_opens_and_clicks_on_the_synthetic_world(world_store: Store) -> None:
    frame = kpis(world_store, by="provider").filter(pl.col("delivered") > 100)
    by = {r["provider"]: r for r in frame.iter_rows(named=True)}
    # Apple Mail users: most opens are MPP prefetches
    assert by["apple"]["open_rate"] - by["apple"]["human_open_rate"] > 0.5
    # everywhere the human rate is at most the raw one, and below it where MPP users exist
    for row in by.values():
        assert row["human_open_rate"] <= row["open_rate"]
        assert row["human_click_rate"] <= row["click_rate"]
    assert by["gmail"]["human_open_rate"] < by["gmail"]["open_rate"]
    # scanners click at corporate Microsoft 365 domains: the raw click rate is inflated there
    assert by["microsoft"]["click_rate"] > by["microsoft"]["human_click_rate"]
    headline = kpis(world_store).row(0, named=True)
    assert headline["sent"] > 10_000 and 0.95 < headline["delivery_rate"] < 1.0
