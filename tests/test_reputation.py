"""Reputation: windows, episodes, spikes (pure), and the planted bad IP of the synthetic world."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from workbench.analytics import daily_reputation, deferral_spikes, flags, snapshot, spike_series
from workbench.analytics.advice import advise, stream_volumes, volume_profile
from workbench.analytics.reputation import MIN_VOLUME, episodes, evaluate_windows, spike_table
from workbench.errors import ConfigError
from workbench.store import Store
from workbench.synth.world import World

D0 = date(2026, 1, 1)


def _daily(sent: list[int], complaints: list[int], entity: str = "x") -> pl.DataFrame:
    n = len(sent)
    return pl.DataFrame({
        "entity": [entity] * n, "day": [D0 + timedelta(days=i) for i in range(n)], "sent": sent, "delivered": sent,
        "hard_bounced": [0] * n, "block_bounced": [0] * n, "deferred": [0] * n, "complaints": complaints,
        "human_unique_opens": [s // 5 for s in sent],
    })


def test_window_widens_until_it_holds_enough_mail() -> None:
    big = evaluate_windows(_daily([MIN_VOLUME] * 10, [0] * 10), "entity")
    assert big["window_days"].to_list()[-1] == 7
    small = evaluate_windows(_daily([MIN_VOLUME // 30] * 30, [0] * 30), "entity")
    assert small["window_days"].to_list()[-1] is None and small["score"].to_list()[-1] is None
    medium = evaluate_windows(_daily([MIN_VOLUME // 12] * 30, [0] * 30), "entity")
    assert medium["window_days"].to_list()[-1] == 14


def test_window_rates_and_score() -> None:
    frame = evaluate_windows(_daily([1000] * 7, [0] * 6 + [21]), "entity")
    last = frame.row(-1, named=True)
    assert last["w_complaints"] == 21 and last["complaint_rate"] == pytest.approx(0.003)
    assert last["band"] in ("MEDIUM", "LOW") and last["score"] == pytest.approx(60.0)
    with pytest.raises(ValueError):
        evaluate_windows(pl.DataFrame({"entity": ["x"]}), "entity")


@pytest.mark.parametrize(
    ("days", "gap", "expected"),
    [([1, 2, 3], 1, [(1, 3, 3)]), ([1, 2, 5, 6], 1, [(1, 2, 2), (5, 6, 2)]), ([1, 4, 8], 7, [(1, 8, 3)]), ([], 1, [])],
)
def test_episodes_table(days: list[int], gap: int, expected: list[tuple[int, int, int]]) -> None:
    marks = pl.DataFrame({"entity": ["x"] * len(days), "day": [D0 + timedelta(days=d) for d in days],
                          "value": [0.1 * (i + 1) for i in range(len(days))]}, schema_overrides={"day": pl.Date, "entity": pl.Utf8})
    got = episodes(marks, ["entity"], max_gap=gap)
    assert [((r["first_day"] - D0).days, (r["last_day"] - D0).days, r["days"]) for r in got.iter_rows(named=True)] == expected


def test_spike_needs_volume_and_a_clear_jump() -> None:
    rows = []
    for d in range(20):
        day = D0 + timedelta(days=d)
        rows.append(("a", "gmail", day, 500, 5 if d < 19 else 150))  # a's own history 1 %, then 30 %
        rows.append(("b", "gmail", day, 500, 5))
        rows.append(("c", "gmail", day, 3, 3 if d == 19 else 0))  # 100 % of 3: too few to be a spike
    frame = pl.DataFrame(rows, schema=["ip", "provider", "day", "sent", "deferred"], orient="row")
    table = spike_table(frame)
    spiked = table.filter("spike")
    assert spiked.select("ip", "day").rows() == [("a", D0 + timedelta(days=19))]
    assert spiked["baseline"].item() == pytest.approx(0.01)
    series = spike_series(table)
    assert set(series["series"].to_list()) == {"a @ gmail"} and len(series) == 20


def test_reputation_levels_are_checked(world_store: Store) -> None:
    with pytest.raises(ConfigError, match="level"):
        daily_reputation(world_store, "country")


@pytest.fixture(scope="module")
def world_flags(world_store: Store) -> pl.DataFrame:
    return flags(world_store, levels=("ip", "subdomain", "domain", "pool"))


def test_critical_complaint_flag_fires_on_the_bad_ip_and_nowhere_else(world_flags: pl.DataFrame) -> None:
    critical = world_flags.filter((pl.col("rule") == "complaint_rate") & (pl.col("severity") == "critical"))
    assert set(critical["entity"].to_list()) == {World().bad_ip}
    assert critical["peak"].max() >= 0.003  # type: ignore[operator]


def test_the_bad_ip_is_deferred_by_gmail(world_flags: pl.DataFrame) -> None:
    spikes = world_flags.filter(pl.col("rule") == "deferral_spike")
    assert (World().bad_ip, "gmail") in set(spikes.select("entity", "provider").rows())


def test_scores_separate_the_bad_ip(world_store: Store) -> None:
    snap = snapshot(daily_reputation(world_store, "ip"))
    judged = snap.filter(pl.col("score").is_not_null())
    worst = judged.row(0, named=True)
    assert worst["entity"] == World().bad_ip and worst["band"] in ("LOW", "BAD")
    assert set(judged.filter(pl.col("entity") != World().bad_ip)["band"].to_list()) <= {"HIGH", "MEDIUM"}


def test_spikes_frame_has_the_figures(world_store: Store) -> None:
    spikes = deferral_spikes(world_store)
    assert {"rate", "rate_lo", "baseline", "own_baseline", "peer_baseline", "spike"} <= set(spikes.columns)
    assert spikes.filter("spike")["deferred"].min() >= 10  # type: ignore[operator]


@pytest.mark.parametrize(
    ("weekly", "ips", "expected"),
    [
        ([40_000] * 8, 1, "dedicated"),  # ~170k a month, every week
        ([40_000] * 8, 4, "shared"),  # the same over four IPs: 43k each
        ([5_000] * 8, 1, "shared"),  # too small
        ([160_000, 0, 0, 0] * 2, 1, "shared"),  # large but in bursts
    ],
)
def test_dedicated_or_shared_table(weekly: list[int], ips: int, expected: str) -> None:
    start = date(2026, 1, 5)  # a Monday
    rows = [("s", start + timedelta(days=7 * w + d), v // 7, ips) for w, v in enumerate(weekly) for d in range(7)]
    frame = pl.DataFrame(rows, schema=["stream", "day", "sent", "ips"], orient="row")
    out = advise(volume_profile(frame)).row(0, named=True)
    assert out["advice"] == expected and out["reason"]


def test_advice_thresholds_are_checked() -> None:
    with pytest.raises(ConfigError):
        advise(pl.DataFrame(), min_monthly=0)


def test_stream_advice_on_the_world(world_store: Store) -> None:
    advice = stream_volumes(world_store)
    assert set(advice["stream"].to_list()) == {"newsletter", "promotions", "transactional", "alerts"}
    assert set(advice["advice"].to_list()) == {"shared"}  # a 60k-event world is small
    assert advice.filter(pl.col("stream") == "newsletter")["pool"].item() == "dedicated"


@pytest.mark.slow
@pytest.mark.parametrize("end", [date(2026, 11, 26), date(2027, 3, 3)])
def test_critical_flag_holds_on_demo_sized_worlds(store: Store, end: date) -> None:
    """The demo's world (seed 42, 1M events) changes with its end date (yesterday): the planted
    signal must be found, and only there, whatever the day. Loaded through the canonical
    fast path (same numbers as the files, see test_canonical)."""
    from workbench.demo import SEED
    from workbench.synth import simulate
    from workbench.synth.canonical import canonical_events

    _, _, msgs, evs, _ = simulate(1_000_000, seed=SEED, end=end)
    frame = canonical_events(evs, msgs)
    del evs, msgs
    with store.writer() as con:
        con.register("f", frame.to_arrow())
        con.execute("INSERT INTO events BY NAME SELECT * FROM f")
        con.unregister("f")
    store.release(force=True)
    raised = flags(store, levels=("ip", "subdomain", "domain", "pool"))
    critical = raised.filter((pl.col("rule") == "complaint_rate") & (pl.col("severity") == "critical"))
    assert set(critical["entity"].to_list()) == {World().bad_ip}
    assert raised.filter((pl.col("rule") == "complaint_rate") & (pl.col("entity") == "news.brightmart.example"))["severity"].to_list() != []
