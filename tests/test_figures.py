"""The audit notebook's figures: the status heatmap and the history chart."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from workbench.auth.figures import COLORS, history_figure, status_heatmap


def test_status_heatmap_colours_by_severity() -> None:
    grid = pl.DataFrame({"domain": ["a.example", "b.example"], "spf": ["ok", "error"], "dkim": ["warning", "info"],
                         "extra": ["x", "y"]})
    figure = status_heatmap(grid)
    heat = figure.data[0]
    assert list(heat.x) == ["spf", "dkim"] and list(heat.y) == ["a.example", "b.example"]
    assert [list(row) for row in heat.z] == [[0, 2], [3, 1]]
    assert [c for _, c in heat.colorscale] == COLORS
    assert figure.layout.height == 120 + 48 * 2


def test_empty_grid_and_history() -> None:
    assert list(status_heatmap(pl.DataFrame({"domain": []}, schema={"domain": pl.Utf8})).data[0].y or []) == []
    history = pl.DataFrame({"started_at": [datetime(2026, 11, 1), datetime(2026, 11, 8)], "errors": [3, 1],
                            "warnings": [5, 5], "infos": [2, 0]})
    figure = history_figure(history)
    assert [t.name for t in figure.data] == ["errors", "warnings", "infos"]
    assert list(figure.data[0].y) == [3, 1]
