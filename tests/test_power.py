"""Sample sizes, power and minimum detectable effects against textbook values and scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from workbench.analytics import power as ex


@pytest.mark.parametrize(("p1", "p2", "continuity", "expected"), [
    (0.05, 0.10, False, 435),   # Fleiss, Statistical Methods for Rates and Proportions: 435 ...
    (0.05, 0.10, True, 474),    # ... and 474 with the continuity correction
    (0.10, 0.15, False, 686),   # the value calculators quote for 10 % vs 15 %
    (0.65, 0.85, False, 73),    # by hand: (1.96·√(2·.75·.25) + 0.8416·√(.2275 + .1275))² / .04 = 72.4
    (0.02, 0.025, False, 13_809),  # a click-rate test: a quarter more clicks on 2 % needs ~14k a group
])
def test_sample_size_textbook(p1: float, p2: float, continuity: bool, expected: int) -> None:
    n1, n2 = ex.sample_size(p1, p2, continuity=continuity)
    assert n1 == n2 == expected


def test_sample_size_reaches_the_power_and_no_less() -> None:
    for p1, p2 in ((0.05, 0.10), (0.02, 0.03), (0.3, 0.2)):
        n, _ = ex.sample_size(p1, p2)
        assert ex.power(n, n, p1, p2) >= 0.8 > ex.power(n - 1, n - 1, p1, p2)
    n1, n2 = ex.sample_size(0.05, 0.10, ratio=2)
    assert n2 == math.ceil(2 * n1 - 1e-9) and n1 < 435
    one_sided, _ = ex.sample_size(0.05, 0.10, alternative="larger")
    assert one_sided < 435
    with pytest.raises(ValueError, match="different rates"):
        ex.sample_size(0.1, 0.1)
    with pytest.raises(ValueError, match="alpha and power"):
        ex.sample_size(0.1, 0.2, power=1.2)


def test_power_against_scipy_normal() -> None:
    # the unpooled-null textbook form for equal groups: Φ(δ/se1 − z·se0/se1)
    n, p1, p2 = 500, 0.1, 0.14
    pbar = (p1 + p2) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    expected = stats.norm.cdf((p2 - p1 - stats.norm.ppf(0.975) * se0) / se1)
    assert ex.power(n, n, p1, p2) == pytest.approx(expected)
    assert ex.power(n, n, p1, p1) < 0.05
    with pytest.raises(ValueError):
        ex.power(0, 10, 0.1, 0.2)


def test_mde_inverts_the_sample_size() -> None:
    assert ex.mde(435, 435, 0.05) == pytest.approx(0.05, abs=2e-4)
    delta = ex.mde(2000, 1000, 0.02)
    assert ex.power(2000, 1000, 0.02, 0.02 + delta) == pytest.approx(0.8, abs=1e-6)
    assert math.isnan(ex.mde(2, 2, 0.5, power=0.99))
    with pytest.raises(ValueError):
        ex.mde(10, 10, 1.0)
