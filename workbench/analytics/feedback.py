"""Bounces, complaints and suppressions over time, for ``04_bounces_complaints``.

The queries count in DuckDB (``workbench/sql/feedback_*.sql``); the rates and their
thresholds are the pure functions below, defined once:

- **complaint rate** = distinct complaints / deliveries, per period and dimension (provider,
  sending IP, pool, campaign, sending domain or stream). Gmail's and Yahoo's bulk-sender rules
  ask senders to stay under **0.1 %** and never reach **0.3 %** (``/work/shared/reference``);
  :func:`complaint_band` names the side of those lines a rate is on.
- The 95 % **Wilson interval** of a rate (:func:`workbench.analytics.stats.wilson_interval`)
  says how much a small denominator can be trusted (one complaint over 200 deliveries is
  0.5 %, give or take a lot).

Every function takes a window: ``days`` ending at ``end`` (default: the last day with
events, so a report over old data shows that data, not an empty "last 30 days").
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Literal

import polars as pl

from workbench.analytics.stats import wilson_interval
from workbench.errors import ConfigError
from workbench.store import Store, load_sql

__all__ = [
    "COMPLAINT_LIMIT", "COMPLAINT_TARGET", "DIMENSIONS", "bounce_reasons", "complaint_band", "complaint_rate",
    "complaint_rates", "linking", "suppressed_per_day", "top_diagnostics", "window",
]

#: complaint rate to stay under (Gmail / Yahoo bulk-sender guidance)
COMPLAINT_TARGET = 0.001
#: complaint rate never to reach (mitigation and delivery suffer past it)
COMPLAINT_LIMIT = 0.003
DIMENSIONS = ("provider", "ip", "pool", "campaign", "domain", "stream")
PERIODS = ("day", "week", "month")
Band = Literal["ok", "warning", "over", "no data"]


def complaint_rate(complaints: int, delivered: int) -> float:
    """Complaints per delivered message (``nan`` when nothing was delivered).

    Raises
    ------
    ValueError
        A count is negative.
    """
    if complaints < 0 or delivered < 0:
        raise ValueError("counts cannot be negative")
    return complaints / delivered if delivered else math.nan


def complaint_band(rate: float) -> Band:
    """``ok`` under 0.1 %, ``warning`` from 0.1 % to under 0.3 %, ``over`` from 0.3 %,
    ``no data`` for ``nan``.

    Raises
    ------
    ValueError
        ``rate`` is negative.
    """
    if math.isnan(rate):
        return "no data"
    if rate < 0:
        raise ValueError("a rate cannot be negative")
    return "ok" if rate < COMPLAINT_TARGET else "warning" if rate < COMPLAINT_LIMIT else "over"


def window(store: Store, days: int = 30, end: date | str | None = None) -> tuple[datetime, datetime]:
    """``[start, end)`` covering ``days`` whole days up to ``end`` (inclusive; default the last
    day with events, else yesterday).

    Raises
    ------
    ConfigError
        ``days`` is not positive or ``end`` is not a date.
    """
    if days < 1:
        raise ConfigError(f"days must be at least 1 (got {days})")
    if isinstance(end, str):
        try:
            end = date.fromisoformat(end)
        except ValueError:
            raise ConfigError(f"end must be a date like 2026-11-30 (got {end!r})") from None
    if end is None:
        end = store.scalar(load_sql("feedback_window")) or (datetime.now().date() - timedelta(days=1))
    assert isinstance(end, date)
    stop = datetime.combine(end, datetime.min.time()) + timedelta(days=1)
    return stop - timedelta(days=days), stop


def _check(by: str, period: str) -> None:
    if by not in DIMENSIONS:
        raise ConfigError(f"by must be one of {', '.join(DIMENSIONS)} (got {by!r})")
    if period not in PERIODS:
        raise ConfigError(f"period must be one of {', '.join(PERIODS)} (got {period!r})")


def bounce_reasons(store: Store, by: str = "provider", period: str = "day", days: int = 30,
                   end: date | str | None = None, deferred: bool = False) -> pl.DataFrame:
    """Bounces per ``period``, dimension ``by`` and reason (every source), with each reason's
    share of the dimension's bounces in the period: ``period, dimension, reason,
    bounce_class, bounces, share``.

    Raises
    ------
    ConfigError
        An unknown ``by`` or ``period``, or a bad window.
    """
    _check(by, period)
    start, stop = window(store, days, end)
    frame = store.query(load_sql("feedback_bounce_reasons"),
                        {"by": by, "period": period, "start": start, "end": stop, "deferred": deferred})
    return frame.with_columns(share=pl.col("bounces") / pl.col("bounces").sum().over("period", "dimension"))


def complaint_rates(store: Store, by: str = "provider", period: str = "week", days: int = 90,
                    end: date | str | None = None, min_delivered: int = 0) -> pl.DataFrame:
    """Complaint rate per ``period`` and dimension ``by``: ``period, dimension, delivered,
    complaints, rate, low, high, band`` (Wilson 95 % bounds; rows with fewer than
    ``min_delivered`` deliveries dropped).

    Raises
    ------
    ConfigError
        An unknown ``by`` or ``period``, or a bad window.
    """
    _check(by, period)
    start, stop = window(store, days, end)
    frame = store.query(load_sql("feedback_complaint_rates"), {"by": by, "period": period, "start": start, "end": stop})
    frame = frame.filter(pl.col("delivered") >= max(min_delivered, 0))
    rate = pl.when(pl.col("delivered") > 0).then(pl.col("complaints") / pl.col("delivered"))
    band = (pl.when(pl.col("rate").is_null()).then(pl.lit("no data"))
            .when(pl.col("rate") < COMPLAINT_TARGET).then(pl.lit("ok"))
            .when(pl.col("rate") < COMPLAINT_LIMIT).then(pl.lit("warning")).otherwise(pl.lit("over")))
    # the complaints of a period can outnumber its deliveries (reports trail the send): cap k at n
    k = frame.select(pl.min_horizontal("complaints", "delivered")).to_series().to_numpy()
    low, high = wilson_interval(k, frame["delivered"].to_numpy())
    return (frame.with_columns(rate=rate, low=pl.Series(low).fill_nan(None), high=pl.Series(high).fill_nan(None))
            .with_columns(band=band))


def top_diagnostics(store: Store, days: int = 30, end: date | str | None = None, limit: int = 20) -> pl.DataFrame:
    """The most frequent bounce / deferral texts (addresses, IPs and ids masked):
    ``pattern, reason, bounced, deferred, total, providers, example``.

    Raises
    ------
    ConfigError
        A bad window or limit.
    """
    if limit < 1:
        raise ConfigError(f"limit must be at least 1 (got {limit})")
    start, stop = window(store, days, end)
    return store.query(load_sql("feedback_top_diagnostics"), {"start": start, "end": stop, "limit": limit})


def suppressed_per_day(store: Store, days: int = 30, end: date | str | None = None) -> pl.DataFrame:
    """Addresses suppressed per day, by reason and scope: ``day, reason, scope, suppressed,
    lifted``.

    Raises
    ------
    ConfigError
        A bad window.
    """
    start, stop = window(store, days, end)
    return store.query(load_sql("feedback_suppressed_daily"), {"start": start, "end": stop})


def linking(store: Store, days: int = 30, end: date | str | None = None) -> pl.DataFrame:
    """Bounce and complaint mail tied to our sends, by method (message_id, campaign,
    recipient, unlinked): ``kind, link_method, n``.

    Raises
    ------
    ConfigError
        A bad window.
    """
    start, stop = window(store, days, end)
    return store.query(load_sql("feedback_linking"), {"start": start, "end": stop})
