"""What the segment notebooks call: a segment prepared over a report window, its KPIs against
the whole base, and the figures (size over time, composition, experiment rates).

Notebooks stay thin: ``06_segment_explorer`` calls :func:`prepare`, :func:`against_base`,
:func:`size_chart` and :func:`composition_chart`; ``07_segment_experiment`` calls
:func:`prepare` per rule and :func:`experiment_chart`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl

from workbench.analytics.kpis import kpis
from workbench.analytics.overview import report_window
from workbench.audience import segments
from workbench.store import Store

__all__ = ["against_base", "composition_chart", "experiment_chart", "prepare", "size_chart"]

#: the label of the whole base in :func:`against_base`
BASE = "all contacts"


def prepare(store: Store, name: str, rule: Mapping[str, Any] | None = None, *, days: int = 90,
            end: str | date | None = None, every_days: int = 7) -> tuple[date, date]:
    """Make sure the segment ``name`` (saved, or defined by ``rule``) has its membership over
    the ``days`` days ending with ``end`` (default: the last day with mail), materialised
    every ``every_days``; returns the window's first and last day.

    Raises
    ------
    ConfigError
        No such segment and no rule, a malformed rule, or a bad window.
    StoreError
        The store cannot be written.
    """
    first, last = report_window(store, None, end or None, days)
    until = datetime.combine(last + timedelta(days=1), time.min)
    segments.ensure(store, name, dict(rule) if rule else None, backfill_from=first, end=until, every_days=every_days)
    return first, last


def against_base(store: Store, name: str, start: date, end: date, *, period: str | None = "week",
                 where: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Every KPI per ``period`` (``None``: the whole window) for the segment (membership at
    send time) and for all mail, in one frame: the ``segment`` column holds the segment's
    name or :data:`BASE`.

    Raises
    ------
    ConfigError
        A bad period or filter.
    StoreError
        The store cannot be read.
    """
    grain = [period] if period else []
    own = kpis(store, by=["segment", *grain], start=start, end=end, where={**(where or {}), "segment": [name]})
    base = kpis(store, by=grain or None, start=start, end=end, where=where).with_columns(segment=pl.lit(BASE))
    return pl.concat([own, base.select(own.columns)], how="vertical_relaxed")


def size_chart(runs: pl.DataFrame, *, title: str = "members over time") -> go.Figure:
    """The segment's size at each materialisation, with who joined and who left.

    Raises
    ------
    ValueError
        The frame is not :func:`workbench.audience.segments.runs`'s.
    """
    missing = {"as_of", "size", "joined", "left"} - set(runs.columns)
    if missing:
        raise ValueError(f"not a runs frame: it lacks {sorted(missing)}")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=runs["as_of"].to_list(), y=runs["size"].to_list(), mode="lines+markers", name="members"))
    joined = runs["joined"].to_list()
    joined[:1] = [None]  # everyone "joins" at the first run: not news
    fig.add_trace(go.Bar(x=runs["as_of"].to_list(), y=joined, name="joined", opacity=0.5))
    fig.add_trace(go.Bar(x=runs["as_of"].to_list(), y=[-v for v in runs["left"].to_list()], name="left", opacity=0.5))
    fig.update_layout(title=title, barmode="relative", xaxis_title="as of", yaxis_title="contacts", hovermode="x unified")
    return fig


def composition_chart(frame: pl.DataFrame, attribute: str, *, title: str | None = None) -> go.Figure:
    """The segment's share of each value against the whole base's (horizontal bars).

    Raises
    ------
    ValueError
        The frame is not :func:`workbench.analytics.segments.composition`'s.
    """
    missing = {"value", "share", "base_share"} - set(frame.columns)
    if missing:
        raise ValueError(f"not a composition frame: it lacks {sorted(missing)}")
    labels = [str(v) for v in frame["value"].to_list()]
    fig = go.Figure()
    for column, name in (("share", "segment"), ("base_share", BASE)):
        fig.add_trace(go.Bar(y=labels, x=[None if v is None else v * 100 for v in frame[column].to_list()], name=name,
                             orientation="h"))
    fig.update_layout(title=title or f"by {attribute.replace('_', ' ')}", barmode="group", xaxis_title="% of contacts",
                      height=max(260, 160 + 28 * len(labels)))
    fig.update_yaxes(autorange="reversed")
    return fig


def experiment_chart(counts: pl.DataFrame, metric: str, *, title: str | None = None) -> go.Figure:
    """Each group's rate with its 95 % Wilson interval (error bars) and its counts on hover.

    Raises
    ------
    ValueError
        The frame is not an experiment's counts.
    """
    missing = {"group", "successes", "trials", "rate", "rate_lo", "rate_hi"} - set(counts.columns)
    if missing:
        raise ValueError(f"not an experiment's counts: it lacks {sorted(missing)}")
    rates = [None if v is None else v * 100 for v in counts["rate"].to_list()]
    lo = [None if r is None or v is None else r - v * 100 for r, v in zip(rates, counts["rate_lo"].to_list(), strict=True)]
    hi = [None if r is None or v is None else v * 100 - r for r, v in zip(rates, counts["rate_hi"].to_list(), strict=True)]
    text = [f"{k:,} of {n:,}" for k, n in counts.select("successes", "trials").iter_rows()]
    fig = go.Figure(go.Bar(x=[str(g) for g in counts["group"].to_list()], y=rates, text=text, textposition="inside",
                           error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo}))
    fig.update_layout(title=title or metric.replace("_", " "), yaxis_title="%", xaxis_title="group")
    return fig

