"""Plotly figures for the notebooks: KPI trends, thresholds drawn on the charts, score bands.

Each function takes a frame from :mod:`workbench.analytics` and returns a
``plotly.graph_objects.Figure``; notebooks only ``.show()`` them, and tests check their data.
Rates are fractions in the frames and percentages on the axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from workbench.analytics.stats import BANDS

__all__ = ["COMPLAINT_LINES", "HARD_BOUNCE_LINES", "bar", "headline_table", "score_chart", "trend"]

#: band colours, like Postmaster Tools' (HIGH green … BAD red)
BAND_COLOURS = {"HIGH": "#1a7f37", "MEDIUM": "#9a6700", "LOW": "#d1242f", "BAD": "#82071e"}
THRESHOLD_COLOURS = {"warning": "#bf8700", "critical": "#cf222e"}
#: the flags' thresholds, as lines for :func:`trend`
COMPLAINT_LINES = (("warning 0.1 %", 0.001, "warning"), ("Gmail/Yahoo bulk-sender limit 0.3 %", 0.003, "critical"))
HARD_BOUNCE_LINES = (("hard bounces 2 %", 0.02, "critical"),)


def _check(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame has no column {', '.join(missing)}; it has {', '.join(frame.columns)}")


def trend(
    frame: pl.DataFrame,
    metric: str,
    *,
    x: str = "day",
    color: str | None = None,
    title: str | None = None,
    thresholds: Sequence[tuple[str, float, str]] = (),
    percent: bool = True,
    band: bool = False,
) -> go.Figure:
    """A line per ``color`` value of ``metric`` over ``x``, with horizontal threshold lines.

    Parameters
    ----------
    frame:
        A KPI or reputation frame.
    metric:
        The column to draw (a rate, or a count with ``percent=False``).
    thresholds:
        ``(label, value, severity)`` lines, e.g. ``("Gmail/Yahoo limit 0.3 %", 0.003, "critical")``.
    band:
        Shade the 95 % interval (``<metric>_lo`` .. ``<metric>_hi``) when the frame has it.

    Raises
    ------
    ValueError
        A column is missing.
    """
    _check(frame, [x, metric, *([color] if color else [])])
    fig = go.Figure()
    scale = 100.0 if percent else 1.0
    groups = frame.sort(x).partition_by(color, as_dict=True, maintain_order=True) if color else {("all",): frame.sort(x)}
    for key, part in groups.items():
        name = str(key[0])
        xs = part[x].to_list()
        ys = [None if v is None else v * scale for v in part[metric].to_list()]
        if band and f"{metric}_lo" in part.columns:
            lo = [None if v is None else v * scale for v in part[f"{metric}_lo"].to_list()]
            hi = [None if v is None else v * scale for v in part[f"{metric}_hi"].to_list()]
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", line={"width": 0}, opacity=0.15,
                                     hoverinfo="skip", showlegend=False, name=f"{name} 95 %"))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, connectgaps=False))
    for label, value, severity in thresholds:
        fig.add_hline(y=value * scale, line_dash="dash", line_color=THRESHOLD_COLOURS.get(severity, "#888"),
                      annotation_text=label, annotation_position="top left")
    fig.update_layout(title=title or metric.replace("_", " "), xaxis_title=x, hovermode="x unified",
                      yaxis_title=("%" if percent else metric.replace("_", " ")), legend_title=color or "")
    return fig


def bar(frame: pl.DataFrame, x: str, y: str, *, color: str | None = None, title: str | None = None,
        percent: bool = False, horizontal: bool = False) -> go.Figure:
    """A bar chart of ``y`` by ``x`` (stacked by ``color``).

    Raises
    ------
    ValueError
        A column is missing.
    """
    _check(frame, [x, y, *([color] if color else [])])
    scale = 100.0 if percent else 1.0
    fig = go.Figure()
    groups = frame.partition_by(color, as_dict=True, maintain_order=True) if color else {("all",): frame}
    for key, part in groups.items():
        xs = [str(v) for v in part[x].to_list()]
        ys = [None if v is None else v * scale for v in part[y].to_list()]
        fig.add_trace(go.Bar(x=ys if horizontal else xs, y=xs if horizontal else ys, name=str(key[0]),
                             orientation="h" if horizontal else "v"))
    fig.update_layout(title=title or y.replace("_", " "), barmode="stack", legend_title=color or "",
                      showlegend=color is not None)
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return fig


def score_chart(frame: pl.DataFrame, *, entity: str = "entity", title: str = "reputation score") -> go.Figure:
    """Reputation scores over days, one line per entity, on the HIGH / MEDIUM / LOW / BAD bands.

    Raises
    ------
    ValueError
        A column is missing.
    """
    _check(frame, [entity, "day", "score"])
    fig = trend(frame, "score", color=entity, title=title, percent=False)
    floors = [f for _, f in BANDS]
    ceilings = [100.0, *floors[:-1]]
    for (name, floor), ceiling in zip(BANDS, ceilings, strict=True):
        fig.add_hrect(y0=floor, y1=ceiling, fillcolor=BAND_COLOURS[name], opacity=0.07, line_width=0,
                      annotation_text=name, annotation_position="right")
    fig.update_yaxes(range=[0, 100], title="score (0–100)")
    return fig


def headline_table(frame: pl.DataFrame, rates: Sequence[str], *, title: str = "headline") -> go.Figure:
    """A table of rates with their 95 % intervals and the counts behind them (one row per rate).

    Raises
    ------
    ValueError
        A rate or its interval is missing, or the frame has more than one row.
    """
    if len(frame) != 1:
        raise ValueError(f"a headline is one row, not {len(frame)}")
    _check(frame, [c for r in rates for c in (r, f"{r}_lo", f"{r}_hi")])
    row = frame.row(0, named=True)

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.3g} %"

    values = [[r.replace("_", " ") for r in rates], [pct(row[r]) for r in rates],
              [f"{pct(row[f'{r}_lo'])} – {pct(row[f'{r}_hi'])}" for r in rates]]
    fig = go.Figure(go.Table(header={"values": ["rate", "value", "95 % interval"]}, cells={"values": values}))
    fig.update_layout(title=title, height=80 + 28 * len(rates))
    return fig
