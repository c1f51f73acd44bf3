"""Dedicated IP or shared pool? Advice per sending stream from its volume history.

A dedicated IP earns its own reputation only when mailbox providers see enough mail from it,
steadily: too little, or mail in bursts with silent weeks between, and every campaign looks
like a cold start (throttling, spam-foldering), where a well-run shared pool's steady volume
would have carried it. The workbench's rule of thumb (parameters of :func:`advise`):

- **dedicated** when the stream sends at least ``min_monthly`` messages a month
  (100 000 by default, a common ESP guideline) per IP it would use, *and* regularly: mail in
  at least ``min_active_weeks`` of the weeks (90 %), with weekly volumes varying by at most
  ``max_weekly_cv`` (a coefficient of variation of 0.5);
- **shared** otherwise, with the reason.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from workbench.analytics.kpis import kpis
from workbench.errors import ConfigError
from workbench.store import Store

__all__ = ["advise", "stream_volumes", "volume_profile"]


def volume_profile(daily: pl.DataFrame) -> pl.DataFrame:
    """Volume figures per stream from a gap-free ``stream, day, sent, ips`` frame. Pure.

    Returns ``stream``, ``days``, ``sent``, ``monthly`` (sent per 30 days), ``ips`` (IPs
    used), ``monthly_per_ip``, ``active_days`` (share of days with mail), ``active_weeks``
    (share of full weeks with mail), ``weekly_cv`` and ``peak_day``.

    Raises
    ------
    ValueError
        A column is missing.
    """
    missing = [c for c in ("stream", "day", "sent", "ips") if c not in daily.columns]
    if missing:
        raise ValueError(f"daily volumes miss {missing}")
    weekly = daily.with_columns(week=pl.col("day").dt.truncate("1w")).group_by("stream", "week").agg(
        pl.col("sent").sum(), pl.len().alias("n_days")
    ).filter(pl.col("n_days") == 7)
    weeks = weekly.group_by("stream").agg(
        active_weeks=(pl.col("sent") > 0).mean(),
        weekly_cv=pl.when(pl.col("sent").mean() > 0).then(pl.col("sent").std(ddof=0) / pl.col("sent").mean()),
    )
    days = daily.group_by("stream").agg(
        days=pl.len(), sent=pl.col("sent").sum(), ips=pl.col("ips").max(),
        active_days=(pl.col("sent") > 0).mean(), peak_day=pl.col("sent").max(),
    )
    out = days.join(weeks, on="stream", how="left").with_columns(
        monthly=pl.col("sent") * 30.0 / pl.col("days"),
    ).with_columns(monthly_per_ip=pl.col("monthly") / pl.max_horizontal(pl.col("ips"), pl.lit(1)))
    return out.select("stream", "days", "sent", "monthly", "ips", "monthly_per_ip", "active_days", "active_weeks",
                      "weekly_cv", "peak_day").sort("stream")


def advise(
    profile: pl.DataFrame,
    *,
    min_monthly: float = 100_000,
    min_active_weeks: float = 0.9,
    max_weekly_cv: float = 0.5,
) -> pl.DataFrame:
    """Add ``advice`` (``dedicated`` / ``shared``) and ``reason`` to a :func:`volume_profile`. Pure.

    Raises
    ------
    ConfigError
        A threshold is not positive.
    """
    if min_monthly <= 0 or not 0 < min_active_weeks <= 1 or max_weekly_cv <= 0:
        raise ConfigError("thresholds must be positive (active weeks a share within (0, 1])")
    per_ip = pl.col("monthly_per_ip")
    big = per_ip >= min_monthly
    regular = (pl.col("active_weeks").fill_null(0) >= min_active_weeks) & (pl.col("weekly_cv").fill_null(99) <= max_weekly_cv)
    fmt = per_ip.round(0).cast(pl.Int64).cast(pl.Utf8)
    reason = (
        pl.when(big & regular).then(pl.concat_str([pl.lit("large and regular: "), fmt, pl.lit(f" a month per IP (≥ {min_monthly:,.0f}), mail every week")]))
        .when(~big).then(pl.concat_str([pl.lit("too small: "), fmt, pl.lit(f" a month per IP (< {min_monthly:,.0f}); a shared pool's volume carries its reputation")]))
        .otherwise(pl.concat_str([pl.lit("irregular: mail in "), (pl.col("active_weeks").fill_null(0) * 100).round(0).cast(pl.Int64).cast(pl.Utf8),
                                  pl.lit(" % of weeks, weekly volume varying by "), (pl.col("weekly_cv").fill_null(0) * 100).round(0).cast(pl.Int64).cast(pl.Utf8),
                                  pl.lit(" %; bursts on a dedicated IP look like cold starts")]))
    )
    return profile.with_columns(advice=pl.when(big & regular).then(pl.lit("dedicated")).otherwise(pl.lit("shared")), reason=reason)


def stream_volumes(
    store: Store,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    **thresholds: float,
) -> pl.DataFrame:
    """The advice for every sending stream of the store, with the figures behind it.

    Also gives ``pool`` (where the stream goes now) so a reader sees the mismatch.

    Raises
    ------
    ConfigError
        A bad date or threshold.
    StoreError
        The store cannot be read.
    """
    daily = kpis(store, by=["stream", "day"], start=start, end=end, intervals=False).filter(pl.col("stream").is_not_null())
    ips = kpis(store, by=["stream", "ip"], start=start, end=end, intervals=False).filter(
        pl.col("stream").is_not_null() & pl.col("ip").is_not_null() & (pl.col("sent") > 0)
    ).group_by("stream").agg(ips=pl.len())
    pools = kpis(store, by=["stream", "pool"], start=start, end=end, intervals=False).filter(pl.col("stream").is_not_null()).sort(
        "sent", descending=True).group_by("stream", maintain_order=True).agg(pool=pl.col("pool").first())
    kinds = store.query("SELECT pool, kind FROM ip_pools")
    pools = pools.join(kinds, on="pool", how="left")
    # a stream on a shared pool would move to one dedicated IP; one on dedicated IPs keeps its count
    ips = ips.join(pools, on="stream", how="left").select(
        "stream", ips=pl.when(pl.col("kind") == "dedicated").then(pl.col("ips")).otherwise(pl.lit(1, pl.UInt32)))
    frame = daily.select("stream", "day", "sent").join(ips, on="stream", how="left").with_columns(pl.col("ips").fill_null(1))
    return advise(volume_profile(frame), **thresholds).join(pools, on="stream", how="left")
