"""KPI definitions, in one place, and :func:`kpis`: any slice of them from the store.

Counts come from one SQL query (``workbench/sql/kpi_counts.sql``: each message's events
folded into one row, then summed per slice); rates and their Wilson intervals are computed
here by the pure functions of :mod:`workbench.analytics.stats`. Every rate names its
numerator and denominator below, because vendors disagree: SendGrid divides complaints by
delivered mail, Mailchimp by sent mail, Gmail Postmaster by mail delivered to the inbox.

Counts (per message, so a message opened three times is one unique open):

============================  ===========================================================
``sent``                      messages injected (accepted by our MTA or the ESP)
``delivered``                 messages accepted by the receiving server (final 2xx)
``dropped``                   messages the ESP refused to send (suppressed, invalid)
``bounced``                   messages that bounced (final 5xx, or given up after 4xx)
``hard_bounced``              … of class ``hard`` (no such user, bad domain)
``soft_bounced``              … of class ``soft`` (mailbox full, given up after retries)
``block_bounced``             … of class ``block`` (refused for reputation or content)
``deferred``                  messages deferred (4xx) at least once
``deferrals``                 deferral attempts
``opens`` / ``clicks``        open / click events (all, total)
``unique_opens``              messages opened at least once (machine opens included)
``human_unique_opens``        messages opened at least once by a person: Apple Mail
                              Privacy Protection prefetches (``is_machine``) excluded
``unique_clicks``             messages clicked at least once
``human_unique_clicks``       … by a person: link scanners' clicks excluded
``complaints``                messages reported as spam (feedback loops, ARF)
``unsubscribes``              messages whose recipient unsubscribed
============================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import polars as pl

from workbench.analytics import dimensions
from workbench.analytics.stats import Z95, rate, wilson_interval
from workbench.errors import ConfigError
from workbench.store import Store, load_sql

__all__ = ["COUNTS", "RATES", "Rate", "add_rates", "kpis", "window"]

COUNTS = (
    "messages", "sent", "delivered", "dropped", "bounced", "hard_bounced", "soft_bounced", "block_bounced",
    "deferred", "deferrals", "opens", "unique_opens", "human_opens", "human_unique_opens", "clicks",
    "unique_clicks", "human_clicks", "human_unique_clicks", "complaints", "unsubscribes",
)


@dataclass(frozen=True)
class Rate:
    """A rate KPI: ``numerator / denominator``, both counts of :data:`COUNTS`."""

    name: str
    numerator: str
    denominator: str
    doc: str


RATES: tuple[Rate, ...] = (
    Rate("delivery_rate", "delivered", "sent", "delivered / sent"),
    Rate("bounce_rate", "bounced", "sent", "bounced / sent (every class)"),
    Rate("hard_bounce_rate", "hard_bounced", "sent", "hard bounces / sent; over 2 % means list hygiene is failing"),
    Rate("soft_bounce_rate", "soft_bounced", "sent", "soft bounces / sent"),
    Rate("block_rate", "block_bounced", "sent", "block bounces / sent: refusals for reputation or content"),
    Rate("deferral_rate", "deferred", "sent", "messages deferred at least once / sent"),
    Rate("open_rate", "unique_opens", "delivered", "unique opens / delivered (machine opens included, as ESPs report it)"),
    Rate("human_open_rate", "human_unique_opens", "delivered", "unique human opens / delivered (Apple MPP prefetches excluded)"),
    Rate("click_rate", "unique_clicks", "delivered", "unique clicks / delivered (scanner clicks included)"),
    Rate("human_click_rate", "human_unique_clicks", "delivered", "unique human clicks / delivered (link scanners excluded)"),
    Rate("click_to_open_rate", "unique_clicks", "unique_opens", "unique clicks / unique opens"),
    Rate("human_click_to_open_rate", "human_unique_clicks", "human_unique_opens", "unique human clicks / unique human opens"),
    Rate("complaint_rate", "complaints", "delivered", "complaints / delivered (SendGrid's definition; Gmail's limit is 0.3 %)"),
    Rate("unsubscribe_rate", "unsubscribes", "delivered", "unsubscribes / delivered"),
)
RATE_BY_NAME = {r.name: r for r in RATES}

#: days read before the window (a message injected just before it is not one sent in it)
LOOKBACK_DAYS = 2
#: days after the window whose engagement still counts for mail sent in it
ATTRIBUTION_DAYS = 7


def _as_bounds(value: date | datetime | str | None, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"not a date: {value!r} (use YYYY-MM-DD)") from exc
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    day = datetime.combine(value, time.min)
    return day + timedelta(days=1) if end else day


def window(store: Store, start: date | datetime | str | None = None, end: date | datetime | str | None = None) -> tuple[datetime, datetime]:
    """The send-time window ``[start, end)``: a date is a whole day (``end`` included); a
    missing bound is the first or last day with mail sent (MTA events, not later opens).

    Raises
    ------
    ConfigError
        A bound is not a date, or ``end`` is before ``start``.
    StoreError
        The store cannot be read.
    """
    lo, hi = _as_bounds(start, end=False), _as_bounds(end, end=True)
    if lo is None or hi is None:
        first, last = store.query(
            "SELECT min(ts) AS lo, max(ts) AS hi FROM events "
            "WHERE event_type IN ('injected', 'deferred', 'delivered', 'bounced', 'dropped')"
        ).row(0)
        today = datetime.combine(date.today(), time.min)
        lo = lo or (datetime.combine(first.date(), time.min) if first else today)
        hi = hi or (datetime.combine(last.date(), time.min) + timedelta(days=1) if last else today + timedelta(days=1))
    if hi <= lo:
        raise ConfigError(f"the window ends ({hi:%Y-%m-%d %H:%M}) before it starts ({lo:%Y-%m-%d %H:%M})")
    return lo, hi


def add_rates(counts: pl.DataFrame, *, intervals: bool = True, z: float = Z95) -> pl.DataFrame:
    """Append every rate of :data:`RATES` (and its ``_lo`` / ``_hi`` Wilson bounds) to a
    frame of counts; a rate over an empty denominator is null.

    Raises
    ------
    ValueError
        A count is negative or a numerator exceeds its denominator.
    """
    columns = []
    for r in RATES:
        k, n = counts[r.numerator].to_numpy(), counts[r.denominator].to_numpy()
        values = [(r.name, rate(k, n))]
        if intervals:
            lo, hi = wilson_interval(np.minimum(k, n), n, z)
            values += [(f"{r.name}_lo", lo), (f"{r.name}_hi", hi)]
        columns += [pl.Series(name, v, dtype=pl.Float64).fill_nan(None) for name, v in values]
    return counts.with_columns(columns)


def _fill_gaps(frame: pl.DataFrame, dims: list[dimensions.Dimension], lo: datetime, hi: datetime) -> pl.DataFrame:
    time_dim = next(d for d in dims if d.grain)
    first = {"1d": lo.date(), "1w": lo.date() - timedelta(days=lo.weekday()), "1mo": lo.date().replace(day=1)}[time_dim.grain or "1d"]
    last = (hi - timedelta(microseconds=1)).date()
    periods = pl.DataFrame({time_dim.name: pl.date_range(first, last, interval=time_dim.grain or "1d", eager=True)})
    others = [d.name for d in dims if d is not time_dim]
    grid = frame.select(others).unique().join(periods, how="cross") if others else periods
    grid = grid.select([d.name for d in dims])
    filled = grid.join(frame, on=[d.name for d in dims], how="left", nulls_equal=True)
    return filled.with_columns(pl.col(c).fill_null(0) for c in COUNTS)


def kpis(
    store: Store,
    by: Sequence[str] | str | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    where: Mapping[str, Any] | None = None,
    *,
    fill_gaps: bool | None = None,
    intervals: bool = True,
    attribution_days: int = ATTRIBUTION_DAYS,
) -> pl.DataFrame:
    """Every KPI, per slice: counts, rates and their 95 % Wilson intervals.

    Parameters
    ----------
    store:
        The store to read.
    by:
        Dimensions (see :data:`workbench.analytics.dimensions.DIMENSIONS`): campaign, stream,
        provider, recipient_domain, domain, subdomain, ip, pool, and one of day / week /
        month. A list or a comma-separated string; none gives one row for the window.
    start, end:
        The send-time window. Dates are whole days, both included; datetimes are
        ``[start, end)``. Default: from the first to the last day holding events.
    where:
        Filters on dimensions: ``{"provider": "gmail", "ip": ["192.0.2.10", "192.0.2.11"]}``.
    fill_gaps:
        Fill a time series's missing periods with zero counts (every period of the window,
        for each combination of the other dimensions seen). Default: when ``by`` holds a
        time grain and no campaign (a campaign's silence outside its send is not a gap).
    intervals:
        Add ``<rate>_lo`` and ``<rate>_hi`` columns.
    attribution_days:
        Engagement and complaints up to this many days after ``end`` count for mail sent
        in the window.

    Returns
    -------
    polars.DataFrame
        One row per slice, sorted by the dimensions: the dimension columns, :data:`COUNTS`,
        then each rate of :data:`RATES` (fractions, null over an empty denominator).

    Raises
    ------
    ConfigError
        An unknown dimension or filter, a bad date or an empty window.
    StoreError
        The store cannot be read.
    """
    dims = dimensions.resolve(by)
    lo, hi = window(store, start, end)
    sql, params = dimensions.render(load_sql("kpi_counts"), dims, where)
    params |= {
        "start": lo, "end": hi,
        "scan_from": lo - timedelta(days=LOOKBACK_DAYS),
        "scan_to": hi + timedelta(days=max(0, attribution_days)),
    }
    counts = store.query(sql, params).with_columns(pl.col(c).cast(pl.Int64) for c in COUNTS)
    if fill_gaps is None:
        fill_gaps = any(d.grain for d in dims) and not any(d.name == "campaign" for d in dims)
    if fill_gaps and any(d.grain for d in dims):
        counts = _fill_gaps(counts, dims, lo, hi)
    if dims:
        counts = counts.sort([d.name for d in dims], nulls_last=True)
    return add_rates(counts, intervals=intervals)
