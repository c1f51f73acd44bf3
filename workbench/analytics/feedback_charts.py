"""Plotly figures for the frames of :mod:`workbench.analytics.feedback` (one call per chart in
``04_bounces_complaints``)."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl

from workbench.analytics.feedback import COMPLAINT_LIMIT, COMPLAINT_TARGET

__all__ = ["complaint_chart", "reasons_chart", "suppressed_chart"]


def _top(frame: pl.DataFrame, column: str, weight: str, top: int) -> list[str]:
    ranked = frame.group_by(column).agg(pl.col(weight).sum()).sort([weight, column], descending=[True, False])
    return ranked[column].head(top).to_list()


def reasons_chart(frame: pl.DataFrame, top_dimensions: int = 6, top_reasons: int = 8, title: str = "Bounces by reason") -> go.Figure:
    """Stacked bars of bounces per period and reason, one panel per dimension (the
    ``top_dimensions`` with most bounces), or one bar per dimension when each has a single
    period (campaigns); reasons past ``top_reasons`` are grouped as "other reasons". ``frame`` comes from :func:`~workbench.analytics.feedback.bounce_reasons`."""
    if frame.is_empty():
        return _empty(title)
    keep = _top(frame, "dimension", "bounces", top_dimensions)
    reasons = _top(frame, "reason", "bounces", top_reasons)
    data = (frame.filter(pl.col("dimension").is_in(keep))
            .with_columns(reason=pl.when(pl.col("reason").is_in(reasons)).then("reason").otherwise(pl.lit("other reasons")))
            .group_by("period", "dimension", "reason").agg(pl.col("bounces").sum()).sort("period", "dimension", "reason"))
    orders = {"dimension": keep, "reason": [*reasons, "other reasons"]}
    if data.group_by("dimension").agg(pl.col("period").n_unique())["period"].max() == 1:
        # one period per dimension (a campaign goes out on one day): one bar per dimension
        return px.bar(data.to_pandas(), x="dimension", y="bounces", color="reason", category_orders=orders,
                      hover_data=["period"], title=title)
    fig = px.bar(data.to_pandas(), x="period", y="bounces", color="reason", facet_col="dimension", facet_col_wrap=3,
                 category_orders=orders, title=title)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    return fig


def complaint_chart(frame: pl.DataFrame, top: int = 8, title: str = "Complaint rate") -> go.Figure:
    """The complaint rate per period of the ``top`` dimensions by deliveries, against the
    0.1 % and 0.3 % lines; hovering shows the counts and the Wilson 95 % interval. ``frame``
    comes from :func:`~workbench.analytics.feedback.complaint_rates`."""
    if frame.is_empty():
        return _empty(title)
    keep = _top(frame, "dimension", "delivered", top)
    data = frame.filter(pl.col("dimension").is_in(keep) & pl.col("rate").is_not_null()).sort("period")
    fig = go.Figure()
    for name in keep:
        rows = data.filter(pl.col("dimension") == name)
        fig.add_trace(go.Scatter(
            x=rows["period"].to_list(), y=rows["rate"].to_list(), mode="lines+markers", name=name,
            customdata=rows.select("complaints", "delivered", "low", "high").to_numpy(),
            hovertemplate="%{y:.3%} (%{customdata[0]} / %{customdata[1]}; 95 %: %{customdata[2]:.3%} – %{customdata[3]:.3%})",
        ))
    fig.add_hline(y=COMPLAINT_TARGET, line_dash="dot", line_color="orange", annotation_text="0.1 % target")
    fig.add_hline(y=COMPLAINT_LIMIT, line_dash="dash", line_color="red", annotation_text="0.3 % limit")
    highest = data["rate"].max()
    top_rate = max(float(highest) if isinstance(highest, int | float) else 0.0, COMPLAINT_LIMIT)
    fig.update_layout(title=title, yaxis={"tickformat": ".2%", "range": [0, top_rate * 1.15]},
                      xaxis_title="period", yaxis_title="complaints / delivered")
    return fig


def suppressed_chart(frame: pl.DataFrame, title: str = "Addresses suppressed per day") -> go.Figure:
    """Stacked bars of suppressions per day by reason. ``frame`` comes from
    :func:`~workbench.analytics.feedback.suppressed_per_day`."""
    if frame.is_empty():
        return _empty(title)
    data = frame.group_by("day", "reason").agg(pl.col("suppressed").sum()).sort("day", "reason")
    return px.bar(data.to_pandas(), x="day", y="suppressed", color="reason", title=title)


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=f"{title}: nothing in this window")
    return fig
