"""The statistics of segmentation experiments and A/B tests on rates. Pure functions.

Everything compares proportions ``k / n`` (clicks of deliveries, complaints of deliveries…)
of a *variant* against a *control*:

- :func:`difference_ci`: the difference ``p_variant − p_control`` with Newcombe's hybrid
  score interval (method 10 of Newcombe 1998; honest near 0 % and for small counts, unlike
  the Wald interval, also available);
- :func:`ztest`: the two-proportion z-test (pooled standard error; z² is Pearson's
  chi-square of the 2×2 table without continuity correction);
- :func:`fisher`: Fisher's exact test, for small counts (:func:`choose_test` picks it when
  an expected cell count is under 5);
- :func:`adjust`: p-values corrected for several comparisons (Holm's step-down, which
  controls the family-wise error; Benjamini–Hochberg, the false discovery rate;
  Bonferroni);
- :func:`sample_size`, :func:`power` and :func:`mde`: how many messages a test needs, the
  chance it detects a given lift, the smallest lift it can detect (Fleiss' normal
  approximation, optionally with continuity correction);
- :func:`prob_better`: the Bayesian probability that the variant's rate is higher
  (Beta(1, 1) priors; exact sum for moderate counts, normal approximation beyond, or a
  seeded Monte Carlo);
- :func:`compare`: all of it for a table of groups, and :func:`verdict`: the conclusion in
  plain language.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import special, stats

from workbench.analytics.power import mde, power, sample_size

__all__ = ["adjust", "choose_test", "cluster_variance", "compare", "difference_ci", "fisher", "mde", "power", "prob_better",
           "sample_size", "verdict", "ztest"]

Alternative = Literal["two-sided", "larger", "smaller"]
_EXACT_LIMIT = 200_000


def _check(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 ≤ successes ≤ trials, not {k} of {n}")


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_ci(k_control: int, n_control: int, k_variant: int, n_variant: int, *, confidence: float = 0.95,
                  method: Literal["newcombe", "wald"] = "newcombe") -> tuple[float, float, float]:
    """The difference of rates ``variant − control`` and its confidence interval.

    Returns
    -------
    tuple of float
        ``(difference, low, high)``; nan when a group has no trials.

    Raises
    ------
    ValueError
        A count is negative, successes exceed trials, or the method is unknown.
    """
    _check(k_control, n_control)
    _check(k_variant, n_variant)
    if n_control == 0 or n_variant == 0:
        return math.nan, math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p1, p2 = k_control / n_control, k_variant / n_variant
    diff = p2 - p1
    if method == "wald":
        se = math.sqrt(p1 * (1 - p1) / n_control + p2 * (1 - p2) / n_variant)
        return diff, diff - z * se, diff + z * se
    if method != "newcombe":
        raise ValueError(f"unknown method {method!r}: newcombe or wald")
    l1, u1 = _wilson(k_control, n_control, z)
    l2, u2 = _wilson(k_variant, n_variant, z)
    low = diff - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = diff + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return diff, low, high


def _p_from_z(z: float, alternative: Alternative) -> float:
    if alternative == "two-sided":
        return float(2 * stats.norm.sf(abs(z)))
    return float(stats.norm.sf(z) if alternative == "larger" else stats.norm.cdf(z))


def ztest(k_control: int, n_control: int, k_variant: int, n_variant: int, *,
          alternative: Alternative = "two-sided") -> tuple[float, float]:
    """The two-proportion z-test of ``variant`` against ``control`` (pooled standard error).

    ``alternative="larger"`` tests whether the variant's rate is higher.

    Returns
    -------
    tuple of float
        ``(z, p_value)``; ``(nan, 1.0)`` when there is no variation at all.

    Raises
    ------
    ValueError
        A count is negative or successes exceed trials.
    """
    _check(k_control, n_control)
    _check(k_variant, n_variant)
    if n_control == 0 or n_variant == 0:
        return math.nan, 1.0
    pooled = (k_control + k_variant) / (n_control + n_variant)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_variant))
    if se == 0:
        return math.nan, 1.0
    z = (k_variant / n_variant - k_control / n_control) / se
    return z, _p_from_z(z, alternative)


def fisher(k_control: int, n_control: int, k_variant: int, n_variant: int, *,
           alternative: Alternative = "two-sided") -> tuple[float, float]:
    """Fisher's exact test of the 2×2 table (scipy); ``(odds_ratio, p_value)`` of the
    variant against the control.

    Raises
    ------
    ValueError
        A count is negative or successes exceed trials.
    """
    _check(k_control, n_control)
    _check(k_variant, n_variant)
    table = [[k_variant, n_variant - k_variant], [k_control, n_control - k_control]]
    side = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    result = stats.fisher_exact(table, alternative=side)
    return float(result.statistic), float(result.pvalue)


def cluster_variance(successes: Sequence[float], trials: Sequence[float]) -> tuple[float, float, float]:
    """The rate ``Σk / Σn`` of a group made of units (contacts) that each got several
    messages, its variance robust to the units' own propensities, and the design effect.

    Messages to the same person are not independent trials: someone who clicks one
    newsletter clicks the next. The ratio estimator's variance (the delta method, the
    "cluster-robust" variance) is ``m / (m − 1) · Σ (k_i − p̂ n_i)² / N²`` for ``m`` units
    and ``N`` messages; the design effect is how many times the naive binomial variance
    ``p̂ (1 − p̂) / N`` it is (1: independent; 3: the messages count as a third as many).

    Returns
    -------
    tuple of float
        ``(rate, variance, design_effect)``; nan when there are fewer than two units or no trials.

    Raises
    ------
    ValueError
        A count is negative or a unit's successes exceed its trials.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if k.shape != n.shape or np.any(k < 0) or np.any(k > n):
        raise ValueError("need 0 ≤ successes ≤ trials for every unit")
    total, m = float(n.sum()), len(n)
    if total == 0 or m < 2:
        return (float(k.sum() / total) if total else math.nan), math.nan, math.nan
    p = float(k.sum() / total)
    variance = m / (m - 1) * float(((k - p * n) ** 2).sum()) / total**2
    naive = p * (1 - p) / total
    return p, variance, (variance / naive if naive > 0 else math.nan)


def choose_test(k_control: int, n_control: int, k_variant: int, n_variant: int) -> str:
    """``"fisher"`` when an expected cell count of the 2×2 table is under 5, else ``"z"``."""
    total = n_control + n_variant
    if total == 0:
        return "fisher"
    hits = k_control + k_variant
    expected = [n * share for n in (n_control, n_variant) for share in (hits / total, 1 - hits / total)]
    return "fisher" if min(expected) < 5 else "z"


def adjust(p_values: Sequence[float], method: Literal["holm", "bh", "bonferroni", "none"] = "holm") -> list[float]:
    """P-values adjusted for multiple comparisons, in the input order.

    Raises
    ------
    ValueError
        An unknown method or a p-value outside [0, 1].
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be within [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "none":
        out = ranked
    elif method == "bonferroni":
        out = np.minimum(1.0, ranked * m)
    elif method == "holm":
        out = np.minimum(1.0, np.maximum.accumulate(ranked * (m - np.arange(m))))
    elif method == "bh":
        scaled = ranked * m / np.arange(1, m + 1)
        out = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    else:
        raise ValueError(f"unknown correction {method!r}: holm, bh, bonferroni or none")
    result = np.empty(m)
    result[order] = out
    return [float(v) for v in result]


def prob_better(k_control: int, n_control: int, k_variant: int, n_variant: int, *, prior: tuple[float, float] = (1.0, 1.0),
                method: Literal["auto", "exact", "normal", "monte_carlo"] = "auto", draws: int = 200_000,
                seed: int = 0) -> float:
    """P(variant's rate > control's) under Beta posteriors (Beta(1, 1) priors by default).

    ``exact`` sums the closed form (Evan Miller's formula, needs whole-number parameters)
    over the variant's successes; ``auto`` uses it up to 200 000 successes and the normal
    approximation of the two Betas beyond; ``monte_carlo`` draws ``draws`` samples from a
    generator seeded with ``seed``.

    Raises
    ------
    ValueError
        A count is negative, successes exceed trials, or exact is asked with fractional priors.
    """
    _check(k_control, n_control)
    _check(k_variant, n_variant)
    a1, b1 = prior[0] + k_control, prior[1] + n_control - k_control
    a2, b2 = prior[0] + k_variant, prior[1] + n_variant - k_variant
    if method == "auto":
        method = "exact" if a2 <= _EXACT_LIMIT and float(a2).is_integer() else "normal"
    if method == "exact":
        if not float(a2).is_integer():
            raise ValueError("the exact sum needs whole-number prior parameters")
        i = np.arange(int(a2), dtype=float)
        terms = special.betaln(a1 + i, b1 + b2) - np.log(b2 + i) - special.betaln(1 + i, b2) - special.betaln(a1, b1)
        return float(min(1.0, max(0.0, np.exp(special.logsumexp(terms)))))
    if method == "normal":
        m1, m2 = a1 / (a1 + b1), a2 / (a2 + b2)
        v1 = a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1))
        v2 = a2 * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1))
        return float(stats.norm.sf(0, loc=m2 - m1, scale=math.sqrt(v1 + v2)))
    if method == "monte_carlo":
        rng = np.random.default_rng(seed)
        return float(np.mean(rng.beta(a2, b2, draws) > rng.beta(a1, b1, draws)))
    raise ValueError(f"unknown method {method!r}")


def compare(groups: pl.DataFrame, *, control: str | None = None, alpha: float = 0.05, correction: str = "holm",
            test: Literal["auto", "z", "fisher"] = "auto", bayes: bool = True, power_target: float = 0.8,
            units: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each group against the control, with every statistic.

    Parameters
    ----------
    groups:
        ``group``, ``successes``, ``trials`` (one row per group).
    control:
        The control group (default: the first row).
    correction:
        ``holm``, ``bh``, ``bonferroni`` or ``none``, over the comparisons made.
    units:
        ``group``, ``successes``, ``trials`` per unit (contact) when units got several
        messages: the test becomes a z-test on cluster-robust variances
        (:func:`cluster_variance`), the interval and the Bayesian probability use them, and
        sample sizes are inflated by the design effect. Without it every message counts
        as an independent trial (right for an A/B test of one send).

    Returns
    -------
    polars.DataFrame
        Per variant: ``group``, ``control``, the counts and rates, ``difference``, ``ci_low``,
        ``ci_high``, ``relative`` (lift), ``test``, ``statistic``, ``p_value``, ``p_adjusted``,
        ``significant``, ``prob_better`` (when ``bayes``), ``design_effect`` (1 without
        units), ``mde`` (the smallest increase detectable at 80 % power with these sizes)
        and ``needed`` (messages per group to detect the observed difference).

    Raises
    ------
    ValueError
        Fewer than two groups, an unknown control, or bad counts.
    """
    rows = groups.select("group", "successes", "trials").iter_rows()
    table = [(str(g), int(k), int(n)) for g, k, n in rows]
    if len(table) < 2:
        raise ValueError("compare at least two groups")
    names = [g for g, _, _ in table]
    base = control or names[0]
    if base not in names:
        raise ValueError(f"no group {base!r} among {names}")
    robust: dict[str, tuple[float, float, float]] = {}
    if units is not None:
        for (name,), part in units.partition_by("group", as_dict=True).items():
            robust[str(name)] = cluster_variance(part["successes"].to_list(), part["trials"].to_list())
    _, kc, nc = table[names.index(base)]
    z_a = float(stats.norm.ppf(1 - alpha / 2))
    out: list[dict[str, Any]] = []
    for g, k, n in table:
        if g == base:
            continue
        rc, rv = (kc / nc if nc else math.nan), (k / n if n else math.nan)
        deff_c = robust.get(base, (0, 0, 1.0))[2] if units is not None else 1.0
        deff_v = robust.get(g, (0, 0, 1.0))[2] if units is not None else 1.0
        if units is not None:
            var = robust.get(base, (0, math.nan, 0))[1] + robust.get(g, (0, math.nan, 0))[1]
            diff = rv - rc
            se = math.sqrt(var) if var > 0 else math.nan
            lo, hi = diff - z_a * se, diff + z_a * se
            chosen, statistic = "z (clustered)", diff / se if se > 0 else math.nan
            p = _p_from_z(statistic, "two-sided") if not math.isnan(statistic) else 1.0
            better = float(stats.norm.cdf(statistic)) if bayes and not math.isnan(statistic) else math.nan
        else:
            diff, lo, hi = difference_ci(kc, nc, k, n, confidence=1 - alpha)
            chosen = choose_test(kc, nc, k, n) if test == "auto" else test
            statistic, p = fisher(kc, nc, k, n) if chosen == "fisher" else ztest(kc, nc, k, n)
            better = prob_better(kc, nc, k, n) if bayes and nc and n else math.nan
        deff = max(1.0, deff_c if not math.isnan(deff_c) else 1.0, deff_v if not math.isnan(deff_v) else 1.0)
        eff_c, eff_v = nc / deff, n / deff
        out.append({
            "group": g, "control": base, "successes": k, "trials": n, "rate": rv, "control_successes": kc,
            "control_trials": nc, "control_rate": rc, "difference": diff, "ci_low": lo, "ci_high": hi,
            "relative": (rv / rc - 1) if rc and not math.isnan(rc) else math.nan, "test": chosen,
            "statistic": statistic, "p_value": p, "prob_better": better, "design_effect": deff,
            "mde": mde(eff_c, eff_v, rc, alpha=alpha, power=power_target) if eff_c > 0 and eff_v > 0 and rc < 1 else math.nan,
            "needed": (math.ceil(max(sample_size(rc, rv, alpha=alpha, power=power_target)) * deff)
                       if nc and n and 0 < rc < 1 and 0 < rv < 1 and rc != rv else None),
        })
    adjusted = adjust([r["p_value"] for r in out], correction)  # type: ignore[arg-type]
    for r, pa in zip(out, adjusted, strict=True):
        r["p_adjusted"] = pa
        r["significant"] = pa < alpha
    frame = pl.DataFrame(out, infer_schema_length=None)
    return frame.with_columns(pl.col(c).cast(pl.Float64).fill_nan(None) for c in (
        "rate", "control_rate", "difference", "ci_low", "ci_high", "relative", "statistic", "p_value", "prob_better",
        "mde", "design_effect"))


def _pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f} %"


def _p(v: float) -> str:
    return "p < 0.001" if v < 0.001 else f"p = {v:.3f}"


def verdict(result: pl.DataFrame, *, metric: str = "rate", alpha: float = 0.05) -> list[str]:
    """One plain-language sentence per comparison of :func:`compare`'s result.

    Raises
    ------
    ValueError
        The frame lacks :func:`compare`'s columns.
    """
    needed = {"group", "control", "rate", "control_rate", "difference", "ci_low", "ci_high", "p_adjusted", "significant"}
    if not needed <= set(result.columns):
        raise ValueError(f"not a comparison frame: it lacks {sorted(needed - set(result.columns))}")
    label = metric.replace("_", " ")
    lines = []
    for r in result.iter_rows(named=True):
        if not r["trials"] or not r["control_trials"]:
            lines.append(f"{r['group']} vs {r['control']}: no data in one of the groups; no conclusion.")
            continue
        interval = (f"{100 * (1 - alpha):.0f} % CI {r['ci_low'] * 100:+.2f} to {r['ci_high'] * 100:+.2f}"
                    if r["ci_low"] is not None and r["ci_high"] is not None else "too few contacts for an interval")
        head = (f"{r['group']}: {label} {_pct(r['rate'])} against {_pct(r['control_rate'])} for {r['control']}, "
                f"{'+' if r['difference'] >= 0 else '−'}{abs(r['difference']) * 100:.2f} points ({interval})")
        if r.get("relative") is not None and r["control_rate"]:
            head += f", {r['rate'] / r['control_rate']:.2f}× as high"
        test = {"fisher": "Fisher's exact test", "z": "two-proportion z-test"}.get(
            r.get("test") or "z", f"z-test on contact-level variances (design effect {r.get('design_effect') or 1:.1f})")
        tail = f"{test} {_p(r['p_adjusted'])} (adjusted for {len(result)} comparison{'s' if len(result) > 1 else ''})"
        bayes = f"; probability that {r['group']} is higher: {_pct(r.get('prob_better'), 1)}" if r.get("prob_better") is not None else ""
        if r["significant"]:
            direction = "higher" if r["difference"] > 0 else "lower"
            lines.append(f"{head}. {tail}{bayes}. Verdict: the {label} of {r['group']} is really {direction} than that of {r['control']}.")
        else:
            more = ""
            if r.get("mde") is not None:
                more = f" With these sizes only a lift of {r['mde'] * 100:.2f} points or more would be detected (80 % power)"
                if r.get("needed"):
                    more += f"; detecting the observed difference would take about {r['needed']:,} messages per group"
                more += "."
            lines.append(f"{head}. {tail}{bayes}. Verdict: no detectable difference.{more}")
    return lines
