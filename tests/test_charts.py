"""Figures: the data they draw, the thresholds and bands on them."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from workbench import charts

DAYS = [date(2026, 1, 1) + timedelta(days=i) for i in range(3)]


def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "day": DAYS * 2, "entity": ["a"] * 3 + ["b"] * 3,
        "complaint_rate": [0.001, 0.002, None, 0.0, 0.0, 0.004],
        "complaint_rate_lo": [0.0005, 0.001, None, 0.0, 0.0, 0.002],
        "complaint_rate_hi": [0.002, 0.003, None, 0.001, 0.001, 0.006],
        "score": [90.0, 70.0, None, 95.0, 95.0, 30.0],
    })


def test_trend_draws_percentages_and_threshold_lines() -> None:
    fig = charts.trend(_frame(), "complaint_rate", color="entity", thresholds=charts.COMPLAINT_LINES)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["a", "b"]
    assert list(lines[0].y) == [pytest.approx(0.1), pytest.approx(0.2), None]
    assert sorted(s.y0 for s in fig.layout.shapes) == [pytest.approx(0.1), pytest.approx(0.3)]
    assert any("0.3" in a.text for a in fig.layout.annotations)


def test_trend_can_shade_the_interval() -> None:
    fig = charts.trend(_frame(), "complaint_rate", color="entity", band=True)
    assert len(fig.data) == 4 and fig.data[0].fill == "toself"


def test_score_chart_has_the_four_bands() -> None:
    fig = charts.score_chart(_frame())
    texts = {a.text for a in fig.layout.annotations}
    assert {"HIGH", "MEDIUM", "LOW", "BAD"} <= texts
    assert tuple(fig.layout.yaxis.range) == (0, 100)


def test_bar_and_headline_table() -> None:
    frame = pl.DataFrame({"provider": ["gmail", "yahoo"], "open_rate": [0.3, 0.2]})
    fig = charts.bar(frame, "provider", "open_rate", percent=True)
    assert list(fig.data[0].y) == [pytest.approx(30.0), pytest.approx(20.0)]
    head = pl.DataFrame({"open_rate": [0.25], "open_rate_lo": [0.2], "open_rate_hi": [0.3]})
    table = charts.headline_table(head, ["open_rate"])
    assert list(table.data[0].cells.values[1]) == ["25 %"]
    empty = pl.DataFrame({"open_rate": [None], "open_rate_lo": [None], "open_rate_hi": [None]}, schema={c: pl.Float64 for c in ("open_rate", "open_rate_lo", "open_rate_hi")})
    assert charts.headline_table(empty, ["open_rate"]).data[0].cells.values[1][0] == "–"


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="no column nope"):
        charts.trend(_frame(), "nope")
    with pytest.raises(ValueError, match="one row"):
        charts.headline_table(_frame(), ["score"])
