"""The math of a rate: proportions, Wilson confidence intervals, the reputation score.

Small pure functions over scalars or numpy arrays (element-wise), tested in tables. An empty
denominator gives ``nan`` (not a number: "no data"), never a division error, and the frame
builders turn ``nan`` into null.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BANDS",
    "Z95",
    "band",
    "rate",
    "reputation_score",
    "wilson_interval",
]

ArrayLike = npt.ArrayLike
Floats = npt.NDArray[np.float64]

#: the normal quantile of a two-sided 95 % interval
Z95: Final = 1.959963984540054


def _pair(numerator: ArrayLike, denominator: ArrayLike) -> tuple[Floats, Floats]:
    k = np.asarray(numerator, dtype=np.float64)
    n = np.asarray(denominator, dtype=np.float64)
    if np.any(k < 0) or np.any(n < 0):
        raise ValueError("counts must not be negative")
    return k, n


def rate(numerator: ArrayLike, denominator: ArrayLike) -> Floats:
    """``numerator / denominator``; ``nan`` where the denominator is 0.

    Parameters
    ----------
    numerator, denominator:
        Counts (scalars or arrays of the same shape).

    Returns
    -------
    numpy.ndarray
        The proportions (a 0-d array for scalars; ``float(rate(1, 4))`` is 0.25).

    Raises
    ------
    ValueError
        A count is negative.
    """
    k, n = _pair(numerator, denominator)
    out = np.full(np.broadcast(k, n).shape, np.nan)
    np.divide(k, n, out=out, where=n > 0)
    return out


def wilson_interval(numerator: ArrayLike, denominator: ArrayLike, z: float = Z95) -> tuple[Floats, Floats]:
    """The Wilson score interval of a proportion ``k / n``.

    .. math::

        \\frac{k + z^2/2}{n + z^2} \\pm \\frac{z}{n + z^2}\\sqrt{\\frac{k (n - k)}{n} + \\frac{z^2}{4}}

    Unlike the normal ("Wald") interval it stays within [0, 1] and is honest for small
    ``n`` and rates near 0, where complaint and bounce rates live: 0 complaints out of 300
    gives [0, 1.26 %], not [0, 0].

    Parameters
    ----------
    numerator, denominator:
        Successes ``k`` and trials ``n`` (``0 <= k <= n``).
    z:
        The normal quantile (1.96 for 95 %).

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper bounds; ``nan`` where ``n`` is 0.

    Raises
    ------
    ValueError
        A count is negative or ``k > n``.
    """
    k, n = _pair(numerator, denominator)
    if np.any(k > n):
        raise ValueError("numerator larger than denominator")
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (k + z2 / 2) / (n + z2)
        half = z / (n + z2) * np.sqrt(np.where(n > 0, k * (n - k) / np.where(n > 0, n, 1), 0) + z2 / 4)
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # exact ends: k = 0 has lower bound 0, k = n has upper bound 1 (rounding can miss them)
    lo = np.where(k == 0, np.where(n > 0, 0.0, np.nan), lo)
    hi = np.where((k == n) & (n > 0), 1.0, hi)
    return lo, hi


#: the score's components: (name, weight, the rate at which the whole weight is lost)
SCORE_WEIGHTS: Final = (
    ("complaint_rate", 40.0, 0.003),
    ("hard_bounce_rate", 20.0, 0.02),
    ("block_rate", 15.0, 0.01),
    ("deferral_rate", 15.0, 0.10),
    ("engagement", 10.0, 0.10),
)

#: bands like Gmail Postmaster Tools' reputation, lowest score of each
BANDS: Final = (("HIGH", 80.0), ("MEDIUM", 60.0), ("LOW", 40.0), ("BAD", 0.0))


def reputation_score(
    complaint_rate: ArrayLike,
    hard_bounce_rate: ArrayLike,
    block_rate: ArrayLike,
    deferral_rate: ArrayLike,
    human_open_rate: ArrayLike,
) -> Floats:
    """A reputation score from 0 (worst) to 100 (best).

    ``100 − 40·min(1, complaints / 0.3 %) − 20·min(1, hard bounces / 2 %)
    − 15·min(1, blocks / 1 %) − 15·min(1, deferrals / 10 %)
    − 10·max(0, 1 − human opens / 10 %)``

    Each component loses its whole weight at the limit that mailbox providers or the
    industry treat as a problem: the 0.3 % complaint rate of Gmail's and Yahoo's bulk-sender
    rules, 2 % hard bounces (list hygiene), 1 % blocks (a blocklisting or content block),
    10 % deferrals (throttling), and a human open rate under 10 % (mail nobody reads).
    A rate that is ``nan`` (no data) costs nothing; a score with no data at all is ``nan``.

    Parameters
    ----------
    complaint_rate, hard_bounce_rate, block_rate, deferral_rate, human_open_rate:
        Proportions (0–1), scalars or arrays of the same shape.

    Returns
    -------
    numpy.ndarray
        The scores.

    Raises
    ------
    ValueError
        A rate is outside [0, 1].
    """
    rates = [np.asarray(r, dtype=np.float64) for r in (complaint_rate, hard_bounce_rate, block_rate, deferral_rate, human_open_rate)]
    for r in rates:
        if np.any((r < 0) | (r > 1)):
            raise ValueError("rates must be within [0, 1]")
    score = np.full(np.broadcast(*rates).shape, 100.0)
    known = np.zeros(score.shape, dtype=bool)
    for (name, weight, limit), r in zip(SCORE_WEIGHTS, rates, strict=True):
        share = 1.0 - r / limit if name == "engagement" else r / limit
        penalty = weight * np.clip(np.nan_to_num(share, nan=0.0), 0.0, 1.0)
        score = score - penalty
        known |= ~np.isnan(r)
    return np.where(known, score, np.nan)


def band(score: ArrayLike) -> npt.NDArray[np.object_]:
    """The band of a score: HIGH (≥ 80), MEDIUM (≥ 60), LOW (≥ 40), BAD (< 40); ``None`` for nan.

    Raises
    ------
    ValueError
        A score is outside [0, 100].
    """
    s = np.asarray(score, dtype=np.float64)
    if np.any((s < 0) | (s > 100)):
        raise ValueError("scores must be within [0, 100]")
    out = np.full(s.shape, None, dtype=object)
    for name, floor in reversed(BANDS):
        out = np.where(s >= floor, name, out)
    return out
