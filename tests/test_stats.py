"""Rates, Wilson intervals, the reputation score and bands: table tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.analytics.stats import BANDS, band, rate, reputation_score, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [(0, 0, math.nan), (5, 0, math.nan), (0, 10, 0.0), (1, 4, 0.25), (3, 3, 1.0), (3, 1000, 0.003)],
)
def test_rate_table(k: int, n: int, expected: float) -> None:
    got = float(rate(k, n))
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_rate_is_elementwise_and_never_divides_by_zero() -> None:
    out = rate(np.array([1, 0, 2]), np.array([2, 0, 0]))
    assert out[0] == 0.5 and math.isnan(out[1]) and math.isnan(out[2])


def test_rate_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        rate(-1, 10)


# reference values: Wilson score interval, z = 1.959964 (R: prop.test(correct = FALSE) gives the same)
@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.27753),
        (10, 10, 0.72247, 1.0),
        (5, 10, 0.23659, 0.76341),
        (1, 100, 0.00177, 0.05449),
        (3, 1000, 0.00102, 0.00878),
        (0, 300, 0.0, 0.01264),
    ],
)
def test_wilson_table(k: int, n: int, lo: float, hi: float) -> None:
    got_lo, got_hi = wilson_interval(k, n)
    assert float(got_lo) == pytest.approx(lo, abs=2e-5)
    assert float(got_hi) == pytest.approx(hi, abs=2e-5)


def test_wilson_of_empty_slice_is_nan() -> None:
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(float(lo)) and math.isnan(float(hi))


def test_wilson_contains_the_rate_and_narrows_with_volume() -> None:
    k = np.array([3, 30, 300])
    n = np.array([1000, 10_000, 100_000])
    lo, hi = wilson_interval(k, n)
    assert np.all(lo < k / n) and np.all(k / n < hi)
    widths = hi - lo
    assert widths[0] > widths[1] > widths[2]


@pytest.mark.parametrize(("k", "n"), [(5, 4), (-1, 3)])
def test_wilson_rejects_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n)


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ((0.0, 0.0, 0.0, 0.0, 0.5), 100.0),  # clean and read
        ((0.003, 0.0, 0.0, 0.0, 0.5), 60.0),  # at the complaint limit: the whole 40 lost
        ((0.006, 0.0, 0.0, 0.0, 0.5), 60.0),  # capped
        ((0.0015, 0.01, 0.0, 0.0, 0.5), 70.0),  # half of 40, half of 20
        ((0.0, 0.0, 0.01, 0.10, 0.5), 70.0),  # blocks and deferrals at their limits
        ((0.0, 0.0, 0.0, 0.0, 0.05), 95.0),  # half the engagement floor
        ((0.003, 0.02, 0.01, 0.10, 0.0), 0.0),  # everything wrong
        ((math.nan, math.nan, math.nan, math.nan, 0.5), 100.0),  # missing rates cost nothing
    ],
)
def test_reputation_score_table(rates: tuple[float, ...], expected: float) -> None:
    assert float(reputation_score(*rates)) == pytest.approx(expected)


def test_reputation_score_without_any_data_is_nan() -> None:
    assert math.isnan(float(reputation_score(*([math.nan] * 5))))


def test_reputation_score_rejects_rates_outside_unit_interval() -> None:
    with pytest.raises(ValueError):
        reputation_score(1.5, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("score", "expected"),
    [(100.0, "HIGH"), (80.0, "HIGH"), (79.9, "MEDIUM"), (60.0, "MEDIUM"), (40.0, "LOW"), (39.99, "BAD"), (0.0, "BAD"), (math.nan, None)],
)
def test_band_table(score: float, expected: str | None) -> None:
    assert band(score).item() == expected


def test_bands_are_ordered_like_postmaster() -> None:
    assert [b for b, _ in BANDS] == ["HIGH", "MEDIUM", "LOW", "BAD"]
    with pytest.raises(ValueError):
        band(101)
