"""Figures of the audit notebook: the status grid as a heatmap, the history of findings."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from workbench.auth.findings import CHECKS, SEVERITIES

__all__ = ["history_figure", "status_heatmap"]

COLORS = ["#2e7d32", "#0288d1", "#f9a825", "#c62828"]  # ok, info, warning, error


def status_heatmap(grid: pl.DataFrame) -> go.Figure:
    """Domains x checks, coloured by the worst finding (``grid`` from :func:`status_grid`)."""
    checks = [c for c in CHECKS if c in grid.columns]
    domains = grid["domain"].to_list() if len(grid) else []
    z = [[SEVERITIES.index(row[c]) if row[c] in SEVERITIES else None for c in checks] for row in grid.iter_rows(named=True)]
    text = [[row[c] or "" for c in checks] for row in grid.iter_rows(named=True)]
    n = len(SEVERITIES) - 1
    scale = [[v / n, color] for v, color in enumerate(COLORS)]
    figure = go.Figure(go.Heatmap(z=z, x=checks, y=domains, text=text, texttemplate="%{text}", zmin=0, zmax=n,
                                  colorscale=scale, showscale=False, xgap=2, ygap=2,
                                  hovertemplate="%{y} · %{x}: %{text}<extra></extra>"))
    figure.update_layout(title="Authentication status by sending domain (latest audit)", height=120 + 48 * max(len(domains), 1),
                         yaxis={"autorange": "reversed"}, margin={"l": 220})
    return figure


def history_figure(history: pl.DataFrame) -> go.Figure:
    """Errors, warnings and infos per audit run over time."""
    figure = go.Figure()
    for column, color in (("errors", COLORS[3]), ("warnings", COLORS[2]), ("infos", COLORS[1])):
        if column in history.columns:
            figure.add_trace(go.Scatter(x=history["started_at"].to_list(), y=history[column].to_list(), name=column,
                                        mode="lines+markers", line={"color": color}))
    figure.update_layout(title="Findings per audit run", yaxis_title="findings", height=320)
    return figure
