"""What the deliverability overview shows beyond the KPI tables: the report window, the
worst campaigns and the bounce reasons."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from workbench.analytics.kpis import kpis, window
from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["bounce_reasons", "report_window", "worst_campaigns"]


def report_window(store: Store, start: str | date | None = None, end: str | date | None = None, days: int = 28) -> tuple[date, date]:
    """The days a report covers, both included: ``start``..``end`` when given; else the
    ``days`` days ending with ``end`` (default: the last day with mail).

    Raises
    ------
    ConfigError
        A bad date, ``days`` < 1, or an empty window.
    StoreError
        The store cannot be read.
    """
    if days < 1:
        raise ConfigError("days must be at least 1")
    _, hi = window(store, None, end or None)
    last = (hi - timedelta(microseconds=1)).date()
    if start:
        lo, _ = window(store, start, last)
        first = lo.date()
    else:
        first = last - timedelta(days=days - 1)
    if first > last:
        raise ConfigError(f"the report window starts ({first}) after it ends ({last})")
    return first, last


def worst_campaigns(
    store: Store,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    *,
    n: int = 10,
    min_delivered: int = 100,
) -> pl.DataFrame:
    """The campaigns with the most complaints, bounces and deferrals per message.

    Campaigns are ranked by a badness index, ``complaint_rate / 0.1 % + hard_bounce_rate /
    2 % + block_rate / 1 % + deferral_rate / 10 %`` (each rate against the limit at which it
    starts to hurt, as in :func:`workbench.analytics.stats.reputation_score`); campaigns
    with fewer than ``min_delivered`` delivered messages are left out (too few to judge).

    Raises
    ------
    ConfigError
        A bad date.
    StoreError
        The store cannot be read.
    """
    frame = kpis(store, by=["campaign", "stream"], start=start, end=end)
    frame = frame.filter(pl.col("delivered") >= min_delivered)
    badness = (
        pl.col("complaint_rate").fill_null(0) / 0.001 + pl.col("hard_bounce_rate").fill_null(0) / 0.02
        + pl.col("block_rate").fill_null(0) / 0.01 + pl.col("deferral_rate").fill_null(0) / 0.10
    )
    return (
        frame.with_columns(badness=badness)
        .sort("badness", descending=True)
        .head(n)
        .select("campaign", "stream", "sent", "delivered", "delivery_rate", "hard_bounce_rate", "block_rate",
                "deferral_rate", "complaints", "complaint_rate", "human_open_rate", "human_click_rate", "badness")
    )


def bounce_reasons(
    store: Store,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    *,
    limit: int = 20,
) -> pl.DataFrame:
    """Bounces and deferrals by class, reason, provider and enhanced status (event time in
    the window), most frequent first, with an example diagnostic.

    Raises
    ------
    ConfigError
        A bad date.
    StoreError
        The store cannot be read.
    """
    lo, hi = window(store, start, end)
    return store.sql("bounce_reasons", {"start": lo, "end": hi, "limit": limit})
