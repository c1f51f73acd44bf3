"""Reputation per sending IP, domain, subdomain and pool: daily trends, a score, flags.

Every figure is built from :func:`workbench.analytics.kpis.kpis` (``by=[level, "day"]``), so
the numbers match the KPI tables. For each entity and day the rates are taken over a
trailing window, the *evaluation window*:

- 7 days, widened to 14, 21 or 28 for low-volume streams until it holds
  :data:`MIN_VOLUME` messages of the rate's denominator (500: one complaint then moves the
  complaint rate by at most 0.2 point, so the 0.3 % flag needs at least two). A stream that has not sent that much in 28 days is
  not judged (score and band null, no flag): small numbers are noise, not reputation.
- The score is :func:`workbench.analytics.stats.reputation_score` of the window's complaint,
  hard-bounce, block, deferral and human-open rates, and the band its
  :func:`~workbench.analytics.stats.band` (HIGH / MEDIUM / LOW / BAD).

Flags (:func:`flags`), each an episode of consecutive days:

- ``complaint_rate`` ≥ 0.1 % (warning) and ≥ 0.3 % (critical: Gmail's and Yahoo's
  bulk-sender limit), per delivered message;
- ``hard_bounce_rate`` ≥ 2 % (critical), per sent message;
- ``deferral_spike`` (warning): an IP's deferrals at one mailbox provider on one day, when the
  day holds 10 deferred messages or more and the lower bound of its 95 % Wilson interval is
  at least 3 × and 5 points above its
  baseline: the lower of the IP's own rate at that provider over the 14 days before and the
  other IPs' rate there that day (each counted only with 100 messages or more).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

import numpy as np
import polars as pl

from workbench.analytics.kpis import kpis
from workbench.analytics.stats import band, rate, reputation_score, wilson_interval
from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["LEVELS", "MIN_VOLUME", "THRESHOLDS", "daily_reputation", "deferral_spikes", "episodes", "flags", "snapshot", "spike_series"]

#: reputation levels and the KPI dimension each reads
LEVELS: Final = {"ip": "ip", "subdomain": "subdomain", "domain": "domain", "pool": "pool"}
#: trailing windows tried in turn, in days
WINDOWS: Final = (7, 14, 21, 28)
#: messages of a rate's denominator an evaluation window must hold
MIN_VOLUME: Final = 500
#: (rule, rate, severity, threshold), in order of severity within a rule
THRESHOLDS: Final = (
    ("complaint_rate", "complaint_rate", "warning", 0.001),
    ("complaint_rate", "complaint_rate", "critical", 0.003),
    ("hard_bounce_rate", "hard_bounce_rate", "critical", 0.02),
)
SPIKE_FACTOR: Final = 3.0
SPIKE_MARGIN: Final = 0.05
SPIKE_BASELINE_DAYS: Final = 14
SPIKE_MIN_BASELINE: Final = 100
#: deferred messages a day needs before it can be a spike (a few deferrals are no spike)
SPIKE_MIN_DEFERRED: Final = 10
#: days without mail an episode of spikes may span (newsletters go out twice a week)
SPIKE_GAP_DAYS: Final = 7

_SUMS = ("sent", "delivered", "hard_bounced", "block_bounced", "deferred", "complaints", "human_unique_opens")
#: each window rate: numerator, denominator
_WINDOW_RATES: Final = {
    "complaint_rate": ("complaints", "delivered"),
    "hard_bounce_rate": ("hard_bounced", "sent"),
    "block_rate": ("block_bounced", "sent"),
    "deferral_rate": ("deferred", "sent"),
    "human_open_rate": ("human_unique_opens", "delivered"),
}


def _level(level: str) -> str:
    if level not in LEVELS:
        raise ConfigError(f"unknown reputation level {level!r}; choose from {', '.join(LEVELS)}")
    return LEVELS[level]


def evaluate_windows(daily: pl.DataFrame, key: str) -> pl.DataFrame:
    """Add the evaluation window's sums and rates to a gap-free daily frame.

    ``daily`` holds one row per ``key`` and day (every day present) with the counts of
    :data:`_SUMS`. Adds ``window_days`` (the trailing window used, null when even 28 days
    hold fewer than :data:`MIN_VOLUME` sent), ``w_<count>`` sums, the rates, ``score`` and
    ``band``. Pure: no store.

    Raises
    ------
    ValueError
        The frame misses a count column.
    """
    missing = [c for c in (key, "day", *_SUMS) if c not in daily.columns]
    if missing:
        raise ValueError(f"daily frame misses {missing}")
    frame = daily.sort(key, "day")
    rolled = frame.with_columns(
        pl.col(c).rolling_sum(w, min_samples=1).over(key).alias(f"_{c}_{w}") for c in _SUMS for w in WINDOWS
    )
    enough = [pl.col(f"_sent_{w}") >= MIN_VOLUME for w in WINDOWS]
    chosen: Any = pl.when(enough[0]).then(WINDOWS[0])
    for cond, w in zip(enough[1:], WINDOWS[1:], strict=True):
        chosen = chosen.when(cond).then(w)
    rolled = rolled.with_columns(window_days=chosen.otherwise(None).cast(pl.Int32))
    # sums over the chosen window (the widest one when none holds enough volume)
    sums = []
    for c in _SUMS:
        expr = pl.col(f"_{c}_{WINDOWS[-1]}")
        for w in reversed(WINDOWS[:-1]):
            expr = pl.when(pl.col("window_days") == w).then(pl.col(f"_{c}_{w}")).otherwise(expr)
        sums.append(expr.alias(f"w_{c}"))
    out = rolled.with_columns(sums).drop([f"_{c}_{w}" for c in _SUMS for w in WINDOWS])
    columns = {}
    for name, (num, den) in _WINDOW_RATES.items():
        k, n = out[f"w_{num}"].to_numpy(), out[f"w_{den}"].to_numpy()
        columns[name] = rate(k, n)
        if name in ("complaint_rate", "hard_bounce_rate"):
            columns[f"{name}_lo"], columns[f"{name}_hi"] = wilson_interval(np.minimum(k, n), n)
    judged = out["window_days"].is_not_null().to_numpy()
    score = reputation_score(*(columns[n] for n in _WINDOW_RATES))
    score = np.where(judged, score, np.nan)
    return out.with_columns(
        *(pl.Series(n, v, dtype=pl.Float64).fill_nan(None) for n, v in columns.items()),
        pl.Series("score", score, dtype=pl.Float64).fill_nan(None),
        pl.Series("band", band(score).tolist(), dtype=pl.Utf8),
    )


def daily_reputation(
    store: Store,
    level: str = "ip",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> pl.DataFrame:
    """Daily volume, trends, trailing-window rates, score and band per entity of ``level``.

    Parameters
    ----------
    store:
        The store to read.
    level:
        ``ip``, ``subdomain``, ``domain`` or ``pool``.
    start, end:
        Days shown (both included); the windows read up to 27 days before ``start``.

    Returns
    -------
    polars.DataFrame
        ``entity``, ``day``, the day's counts and rates (``day_*``), the evaluation window
        (``window_days``, ``w_*`` sums), its rates with Wilson bounds, ``score``, ``band``.

    Raises
    ------
    ConfigError
        An unknown level or a bad date.
    StoreError
        The store cannot be read.
    """
    from workbench.analytics.kpis import window

    dim = _level(level)
    lo, hi = window(store, start, end)
    first = lo - timedelta(days=WINDOWS[-1] - 1)
    frame = kpis(store, by=[dim, "day"], start=first, end=hi, intervals=False)
    frame = frame.filter(pl.col(dim).is_not_null()).rename({dim: "entity"})
    keep = ["entity", "day", "sent", "delivered", "bounced", "hard_bounced", "block_bounced", "deferred", "deferrals",
            "complaints", "unique_opens", "human_unique_opens", "human_unique_clicks"]
    day_rates = {f"day_{r}": pl.col(r) for r in ("delivery_rate", "complaint_rate", "hard_bounce_rate", "deferral_rate", "human_open_rate")}
    frame = frame.select(*keep, **day_rates)
    out = evaluate_windows(frame, "entity")
    return out.filter(pl.col("day") >= lo.date()).with_columns(level=pl.lit(level)).select("level", pl.exclude("level"))


def episodes(marks: pl.DataFrame, keys: list[str], *, max_gap: int = 1) -> pl.DataFrame:
    """Merge flagged days into episodes per ``keys``: days at most ``max_gap`` apart (1:
    consecutive days) belong to one episode.

    ``marks`` has ``keys``, ``day`` and ``value``; returns ``keys``, ``first_day``,
    ``last_day``, ``days``, ``peak`` and ``latest`` (the value on the last day). Pure.

    Raises
    ------
    ValueError
        ``marks`` misses a column.
    """
    missing = [c for c in (*keys, "day", "value") if c not in marks.columns]
    if missing:
        raise ValueError(f"marks miss {missing}")
    if marks.is_empty():
        return marks.select(*keys).with_columns(
            first_day=pl.lit(None, pl.Date), last_day=pl.lit(None, pl.Date), days=pl.lit(0, pl.Int64),
            peak=pl.lit(None, pl.Float64), latest=pl.lit(None, pl.Float64),
        ).clear()
    m = marks.sort(*keys, "day").with_columns(
        run=((pl.col("day") - pl.col("day").shift(1).over(keys)).dt.total_days().fill_null(999) > max_gap).cum_sum().over(keys)
    )
    return (
        m.group_by(*keys, "run", maintain_order=True)
        .agg(first_day=pl.col("day").first(), last_day=pl.col("day").last(), days=pl.len().cast(pl.Int64),
             peak=pl.col("value").max(), latest=pl.col("value").last())
        .drop("run")
    )


def deferral_spikes(store: Store, start: date | datetime | str | None = None, end: date | datetime | str | None = None) -> pl.DataFrame:
    """Days on which an IP's deferrals at one provider spiked (see the module docstring).

    Returns
    -------
    polars.DataFrame
        ``ip``, ``provider``, ``day``, ``sent``, ``deferred``, ``rate``, ``rate_lo``,
        ``baseline``, ``own_baseline``, ``peer_baseline`` and ``spike`` (bool), every day
        with mail.

    Raises
    ------
    ConfigError
        A bad date.
    StoreError
        The store cannot be read.
    """
    from workbench.analytics.kpis import window

    lo, hi = window(store, start, end)
    first = lo - timedelta(days=SPIKE_BASELINE_DAYS)
    f = kpis(store, by=["ip", "provider", "day"], start=first, end=hi, intervals=False)
    f = f.filter(pl.col("ip").is_not_null()).select("ip", "provider", "day", "sent", "deferred").sort("ip", "provider", "day")
    return spike_table(f).filter((pl.col("day") >= lo.date()) & (pl.col("sent") > 0))


def spike_table(f: pl.DataFrame) -> pl.DataFrame:
    """The deferral-spike test on a gap-free frame of ``ip, provider, day, sent, deferred``. Pure.

    Raises
    ------
    ValueError
        A count is negative.
    """
    w = SPIKE_BASELINE_DAYS
    f = f.sort("ip", "provider", "day").with_columns(
        own_sent=pl.col("sent").shift(1).rolling_sum(w, min_samples=1).over("ip", "provider"),
        own_deferred=pl.col("deferred").shift(1).rolling_sum(w, min_samples=1).over("ip", "provider"),
        peer_sent=pl.col("sent").sum().over("provider", "day") - pl.col("sent"),
        peer_deferred=pl.col("deferred").sum().over("provider", "day") - pl.col("deferred"),
    )
    own = np.where(f["own_sent"].fill_null(0).to_numpy() >= SPIKE_MIN_BASELINE,
                   rate(f["own_deferred"].fill_null(0).to_numpy(), f["own_sent"].fill_null(0).to_numpy()), np.nan)
    peer = np.where(f["peer_sent"].to_numpy() >= SPIKE_MIN_BASELINE, rate(f["peer_deferred"].to_numpy(), f["peer_sent"].to_numpy()), np.nan)
    baseline = np.fmin(own, peer)
    k, n = f["deferred"].to_numpy(), f["sent"].to_numpy()
    lo, _ = wilson_interval(np.minimum(k, n), n)
    with np.errstate(invalid="ignore"):
        spike = (~np.isnan(baseline) & (k >= SPIKE_MIN_DEFERRED) & (lo >= SPIKE_FACTOR * baseline)
                 & (lo >= baseline + SPIKE_MARGIN))
    return f.select("ip", "provider", "day", "sent", "deferred").with_columns(
        pl.Series("rate", rate(k, n)).fill_nan(None), pl.Series("rate_lo", lo).fill_nan(None),
        pl.Series("baseline", baseline).fill_nan(None), pl.Series("own_baseline", own).fill_nan(None),
        pl.Series("peer_baseline", peer).fill_nan(None), pl.Series("spike", spike),
    )


def flags(
    store: Store,
    levels: tuple[str, ...] = ("ip", "subdomain", "pool"),
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> pl.DataFrame:
    """Every flag raised in the window, as episodes (see the module docstring for the rules).

    Returns
    -------
    polars.DataFrame
        ``level``, ``entity``, ``provider`` (deferral spikes only), ``rule``, ``severity``,
        ``threshold``, ``first_day``, ``last_day``, ``days``, ``peak``, ``latest`` and
        ``active`` (the episode reaches the window's last day); the worst first.

    Raises
    ------
    ConfigError
        An unknown level or a bad date.
    StoreError
        The store cannot be read.
    """
    parts = []
    last_day: date | None = None
    for level in levels:
        daily = daily_reputation(store, level, start, end)
        if not daily.is_empty():
            latest: date = daily["day"].max()  # type: ignore[assignment]
            last_day = max(last_day or latest, latest)
        for rule, column, severity, threshold in THRESHOLDS:
            den = _WINDOW_RATES[column][1]
            marks = daily.filter(pl.col("window_days").is_not_null() & (pl.col(f"w_{den}") >= MIN_VOLUME) & (pl.col(column) >= threshold))
            ep = episodes(marks.select("entity", "day", value=pl.col(column)), ["entity"])
            parts.append(ep.with_columns(level=pl.lit(level), provider=pl.lit(None, pl.Utf8), rule=pl.lit(rule),
                                         severity=pl.lit(severity), threshold=pl.lit(threshold)))
    if "ip" in levels:
        spikes = deferral_spikes(store, start, end)
        marks = spikes.filter("spike").select(pl.col("ip").alias("entity"), "provider", "day", value=pl.col("rate"))
        ep = episodes(marks, ["entity", "provider"], max_gap=SPIKE_GAP_DAYS)
        parts.append(ep.with_columns(level=pl.lit("ip"), rule=pl.lit("deferral_spike"), severity=pl.lit("warning"),
                                     threshold=pl.lit(None, pl.Float64)))
    columns = ["level", "entity", "provider", "rule", "severity", "threshold", "first_day", "last_day", "days", "peak", "latest"]
    out = pl.concat([p.select(columns) for p in parts], how="vertical_relaxed")
    out = out.with_columns(active=pl.col("last_day") == pl.lit(last_day, pl.Date))
    order = pl.col("severity").replace_strict({"critical": 0, "warning": 1}, return_dtype=pl.Int8)
    return out.sort(order, "level", "entity", "rule", "first_day")


def snapshot(daily: pl.DataFrame) -> pl.DataFrame:
    """Each entity's last day of a :func:`daily_reputation` frame: its band, score and the
    window's rates, worst score first. Pure.

    Raises
    ------
    ValueError
        The frame is not a daily reputation frame.
    """
    missing = [c for c in ("entity", "day", "score", "band", *_WINDOW_RATES) if c not in daily.columns]
    if missing:
        raise ValueError(f"not a daily reputation frame: no {', '.join(missing)}")
    last = daily.filter(pl.col("day") == pl.col("day").max().over("entity"))
    return last.select("entity", "day", "band", "score", "window_days", "w_sent", "w_delivered", "w_complaints",
                       *_WINDOW_RATES).sort("score", nulls_last=True)


def spike_series(spikes: pl.DataFrame) -> pl.DataFrame:
    """The days of every (IP, provider) pair that spiked at least once, with a ``series``
    label ``"ip @ provider"``, for a chart. Pure.

    Raises
    ------
    ValueError
        The frame is not a :func:`deferral_spikes` frame.
    """
    missing = [c for c in ("ip", "provider", "day", "rate", "spike") if c not in spikes.columns]
    if missing:
        raise ValueError(f"not a deferral-spikes frame: no {', '.join(missing)}")
    pairs = spikes.filter("spike").select("ip", "provider").unique()
    return spikes.join(pairs, on=["ip", "provider"]).with_columns(
        series=pl.concat_str([pl.col("ip"), pl.lit(" @ "), pl.col("provider").fill_null("?")])
    ).sort("series", "day")
