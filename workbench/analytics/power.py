"""How many messages a test of two rates needs, its power, and the smallest lift it can
detect (Fleiss' normal approximation: pooled variance under the null, unpooled under the
alternative; optionally Fleiss' continuity correction). Pure functions.

For 5 % vs 10 % at α = 0.05 (two-sided) and 80 % power: 435 messages per group, 474 with the
continuity correction (Fleiss, *Statistical Methods for Rates and Proportions*).
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import optimize, stats

__all__ = ["mde", "power", "sample_size"]

Alternative = Literal["two-sided", "larger", "smaller"]


def _z_alpha(alpha: float, alternative: Alternative) -> float:
    return float(stats.norm.ppf(1 - alpha / 2 if alternative == "two-sided" else 1 - alpha))


def power(n_control: float, n_variant: float, p_control: float, p_variant: float, *, alpha: float = 0.05,
          alternative: Alternative = "two-sided") -> float:
    """The chance that the z-test at level ``alpha`` detects ``p_control → p_variant`` with
    these group sizes (normal approximation, pooled variance under the null).

    Raises
    ------
    ValueError
        A rate outside [0, 1] or a group size ≤ 0.
    """
    if n_control <= 0 or n_variant <= 0 or not (0 <= p_control <= 1 and 0 <= p_variant <= 1):
        raise ValueError("need positive group sizes and rates within [0, 1]")
    delta = abs(p_variant - p_control)
    pbar = (n_control * p_control + n_variant * p_variant) / (n_control + n_variant)
    se0 = math.sqrt(pbar * (1 - pbar) * (1 / n_control + 1 / n_variant))
    se1 = math.sqrt(p_control * (1 - p_control) / n_control + p_variant * (1 - p_variant) / n_variant)
    if se1 == 0:
        return 1.0 if delta > 0 else 0.0
    return float(stats.norm.cdf((delta - _z_alpha(alpha, alternative) * se0) / se1))


_power = power


def sample_size(p_control: float, p_variant: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
                alternative: Alternative = "two-sided", continuity: bool = False) -> tuple[int, int]:
    """Messages needed per group to detect ``p_control → p_variant`` (Fleiss' formula).

    ``ratio`` is ``n_variant / n_control``. For 5 % vs 10 % at α = 0.05 and 80 % power:
    435 per group, 474 with the continuity correction (Fleiss, *Statistical Methods for
    Rates and Proportions*).

    Returns
    -------
    tuple of int
        ``(n_control, n_variant)``.

    Raises
    ------
    ValueError
        Equal rates, rates outside (0, 1), or alpha / power / ratio out of range.
    """
    if not (0 < p_control < 1 and 0 < p_variant < 1) or p_control == p_variant:
        raise ValueError("need two different rates strictly between 0 and 1")
    if not (0 < alpha < 1 and 0 < power < 1 and ratio > 0):
        raise ValueError("alpha and power within (0, 1), ratio > 0")
    z_a, z_b = _z_alpha(alpha, alternative), float(stats.norm.ppf(power))
    delta = abs(p_variant - p_control)
    pbar = (p_control + ratio * p_variant) / (1 + ratio)
    n = (z_a * math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
         + z_b * math.sqrt(p_control * (1 - p_control) + p_variant * (1 - p_variant) / ratio)) ** 2 / delta**2
    if continuity:
        n = n / 4 * (1 + math.sqrt(1 + 2 * (ratio + 1) / (ratio * n * delta))) ** 2
    n1 = math.ceil(n - 1e-9)
    return n1, math.ceil(ratio * n1 - 1e-9)


def mde(n_control: float, n_variant: float, p_control: float, *, alpha: float = 0.05, power: float = 0.8,
        alternative: Alternative = "two-sided") -> float:
    """The minimum detectable effect: the smallest absolute increase of ``p_control`` the
    z-test detects with the given power; nan when none up to a rate of 1 is.

    Raises
    ------
    ValueError
        A group size ≤ 0 or a rate outside [0, 1).
    """
    if n_control <= 0 or n_variant <= 0 or not 0 <= p_control < 1:
        raise ValueError("need positive group sizes and a rate within [0, 1)")
    target = power

    def gap(delta: float) -> float:
        return _power(n_control, n_variant, p_control, p_control + delta, alpha=alpha, alternative=alternative) - target

    top = 1.0 - p_control
    if gap(top) < 0:
        return math.nan
    return float(optimize.brentq(gap, 1e-12, top, xtol=1e-10))
