"""The statistics of experiments against scipy, statsmodels and textbook values."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from workbench.analytics import experiments as ex

# (control successes, control trials, variant successes, variant trials)
TABLES = [(48, 80, 56, 70), (10, 100, 15, 100), (200, 10_000, 260, 10_000), (5, 40, 0, 35), (0, 1000, 3, 1000),
          (1830, 94_530, 70, 1_500), (9, 10, 1, 10)]


@pytest.mark.parametrize("table", TABLES)
def test_newcombe_interval_matches_statsmodels(table: tuple[int, int, int, int]) -> None:
    kc, nc, kv, nv = table
    diff, lo, hi = ex.difference_ci(kc, nc, kv, nv)
    ref_lo, ref_hi = confint_proportions_2indep(kv, nv, kc, nc, method="newcomb", compare="diff")
    assert diff == pytest.approx(kv / nv - kc / nc)
    assert (lo, hi) == (pytest.approx(ref_lo, abs=1e-9), pytest.approx(ref_hi, abs=1e-9))


def test_newcombe_textbook_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II example (a): 56/70 vs 48/80
    diff, lo, hi = ex.difference_ci(48, 80, 56, 70)
    assert (round(diff, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)
    _, wald_lo, wald_hi = ex.difference_ci(48, 80, 56, 70, method="wald")
    assert (round(wald_lo, 4), round(wald_hi, 4)) == (0.0575, 0.3425)
    assert math.isnan(ex.difference_ci(0, 0, 1, 2)[0])
    with pytest.raises(ValueError, match="unknown method"):
        ex.difference_ci(1, 2, 1, 2, method="exact")  # type: ignore[arg-type]


@pytest.mark.parametrize("table", TABLES[:-2])
def test_ztest_matches_chi_square_and_statsmodels(table: tuple[int, int, int, int]) -> None:
    kc, nc, kv, nv = table
    z, p = ex.ztest(kc, nc, kv, nv)
    chi2, p_chi, _, _ = stats.chi2_contingency([[kv, nv - kv], [kc, nc - kc]], correction=False)
    assert z * z == pytest.approx(chi2)
    assert p == pytest.approx(p_chi)
    z_ref, p_ref = proportions_ztest([kv, kc], [nv, nc])
    assert (z, p) == (pytest.approx(z_ref), pytest.approx(p_ref))
    _, p_larger = ex.ztest(kc, nc, kv, nv, alternative="larger")
    assert p_larger == pytest.approx(proportions_ztest([kv, kc], [nv, nc], alternative="larger")[1])
    assert ex.ztest(kc, nc, kv, nv, alternative="smaller")[1] == pytest.approx(1 - p_larger)


def test_ztest_without_variation() -> None:
    z, p = ex.ztest(0, 10, 0, 10)
    assert math.isnan(z) and p == 1.0
    with pytest.raises(ValueError, match="successes"):
        ex.ztest(11, 10, 0, 10)


@pytest.mark.parametrize("table", TABLES)
def test_fisher_matches_scipy(table: tuple[int, int, int, int]) -> None:
    kc, nc, kv, nv = table
    odds, p = ex.fisher(kc, nc, kv, nv)
    ref = stats.fisher_exact([[kv, nv - kv], [kc, nc - kc]])
    assert p == pytest.approx(ref.pvalue) and odds == pytest.approx(ref.statistic)
    assert ex.fisher(kc, nc, kv, nv, alternative="larger")[1] == pytest.approx(
        stats.fisher_exact([[kv, nv - kv], [kc, nc - kc]], alternative="greater").pvalue)


def test_fisher_textbook_tea_tasting() -> None:
    # Fisher's lady tasting tea: 3 of 4 right each way, one-sided p = 17/70
    assert ex.fisher(1, 4, 3, 4, alternative="larger")[1] == pytest.approx(17 / 70)


@pytest.mark.parametrize(("table", "expected"), [((5, 40, 0, 35), "fisher"), ((0, 1000, 3, 1000), "fisher"),
                                                  ((10, 100, 15, 100), "z"), ((200, 10_000, 260, 10_000), "z")])
def test_choose_test(table: tuple[int, int, int, int], expected: str) -> None:
    assert ex.choose_test(*table) == expected


P = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2]


@pytest.mark.parametrize(("method", "reference"), [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_corrections_match_statsmodels(method: str, reference: str) -> None:
    assert ex.adjust(P, method) == pytest.approx(list(multipletests(P, method=reference)[1]))  # type: ignore[arg-type]


def test_corrections_textbook_and_scipy() -> None:
    # Holm: sorted .005 .01 .03 .04 times 4 3 2 1 -> .02 .03 .06 .04 -> monotone .02 .03 .06 .06
    assert ex.adjust([0.01, 0.04, 0.03, 0.005], "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert ex.adjust(P, "bh") == pytest.approx(list(stats.false_discovery_control(P)))
    assert ex.adjust([0.2], "holm") == [0.2] and ex.adjust([], "bh") == []
    assert ex.adjust([0.4, 0.9], "bonferroni") == [0.8, 1.0]
    with pytest.raises(ValueError, match="unknown correction"):
        ex.adjust(P, "sidak")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="within"):
        ex.adjust([1.5])


@pytest.mark.parametrize("table", [(10, 100, 15, 100), (200, 1000, 180, 1000), (3, 50, 9, 50), (0, 20, 0, 20)])
def test_probability_of_being_better(table: tuple[int, int, int, int]) -> None:
    kc, nc, kv, nv = table
    a1, b1, a2, b2 = 1 + kc, 1 + nc - kc, 1 + kv, 1 + nv - kv
    reference = integrate.quad(lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.sf(x, a2, b2), 0, 1, epsabs=1e-12)[0]
    assert ex.prob_better(*table) == pytest.approx(reference, abs=1e-9)
    assert ex.prob_better(*table, method="monte_carlo", seed=3) == pytest.approx(reference, abs=0.004)
    assert ex.prob_better(*table, method="normal") == pytest.approx(reference, abs=0.01)
    assert ex.prob_better(*table, method="monte_carlo", seed=3) == ex.prob_better(*table, method="monte_carlo", seed=3)


def test_probability_symmetry_and_large_counts() -> None:
    assert ex.prob_better(10, 100, 15, 100) + ex.prob_better(15, 100, 10, 100) == pytest.approx(1.0)
    big = ex.prob_better(300_000, 10_000_000, 301_000, 10_000_000)
    assert big == pytest.approx(ex.prob_better(300_000, 10_000_000, 301_000, 10_000_000, method="normal"))
    assert 0.9 < big < 1
    with pytest.raises(ValueError, match="whole-number"):
        ex.prob_better(1, 10, 2, 10, prior=(0.5, 0.5), method="exact")


def test_compare_and_verdict() -> None:
    groups = pl.DataFrame({"group": ["others", "paris", "lyon"], "successes": [1830, 70, 30],
                           "trials": [94_530, 1_500, 1_550]})
    result = ex.compare(groups)
    paris, lyon = result.row(0, named=True), result.row(1, named=True)
    assert paris["group"] == "paris" and paris["control"] == "others" and paris["test"] == "z"
    assert paris["significant"] and not lyon["significant"]
    z, p = ex.ztest(1830, 94_530, 70, 1_500)
    assert paris["statistic"] == pytest.approx(z)
    assert paris["p_adjusted"] == pytest.approx(ex.adjust([p, ex.ztest(1830, 94_530, 30, 1_550)[1]])[0])
    assert paris["relative"] == pytest.approx((70 / 1500) / (1830 / 94_530) - 1)
    assert paris["prob_better"] > 0.999 and lyon["needed"] > 1_550
    lines = ex.verdict(result, metric="human_click_rate")
    assert "Verdict: the human click rate of paris is really higher than that of others" in lines[0]
    assert "Verdict: no detectable difference" in lines[1] and "messages per group" in lines[1]
    small = ex.compare(pl.DataFrame({"group": ["a", "b"], "successes": [0, 4], "trials": [30, 30]}), control="a")
    assert small["test"][0] == "fisher"
    with pytest.raises(ValueError, match="at least two"):
        ex.compare(groups.head(1))
    with pytest.raises(ValueError, match="no group"):
        ex.compare(groups, control="nice")
    with pytest.raises(ValueError, match="not a comparison"):
        ex.verdict(groups)


def test_compare_uses_the_chosen_correction() -> None:
    groups = pl.DataFrame({"group": ["c", "v1", "v2", "v3"], "successes": [100, 130, 125, 101], "trials": [5000] * 4})
    holm, bh = ex.compare(groups), ex.compare(groups, correction="bh")
    raw = holm["p_value"].to_list()
    assert holm["p_adjusted"].to_list() == pytest.approx(ex.adjust(raw, "holm"))
    assert bh["p_adjusted"].to_list() == pytest.approx(ex.adjust(raw, "bh"))
    assert np.all(np.array(bh["p_adjusted"].to_list()) <= np.array(holm["p_adjusted"].to_list()) + 1e-12)


def test_cluster_variance_matches_statsmodels_cluster_robust() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    trials = rng.integers(1, 30, 60)
    successes = rng.binomial(trials, rng.beta(1, 8, 60))
    rate, variance, deff = ex.cluster_variance(successes, trials)
    # the same estimate as a regression of each message's outcome on a constant, with
    # standard errors clustered by contact (no small-sample factor; ours has m / (m − 1))
    y = np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for k, n in zip(successes, trials, strict=True)])
    groups = np.repeat(np.arange(60), trials)
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    assert rate == pytest.approx(fit.params[0])
    assert variance * 59 / 60 == pytest.approx(fit.bse[0] ** 2)
    assert deff == pytest.approx(variance / (rate * (1 - rate) / trials.sum()))
    # one message per contact: no clustering, the design effect is m / (m − 1)
    ones = np.ones(50, dtype=int)
    assert ex.cluster_variance(np.r_[np.ones(10, dtype=int), np.zeros(40, dtype=int)], ones)[2] == pytest.approx(50 / 49)
    assert math.isnan(ex.cluster_variance([1], [3])[1])
    with pytest.raises(ValueError):
        ex.cluster_variance([3], [2])


def test_compare_with_units_uses_robust_variances() -> None:
    units = pl.DataFrame({"group": ["c"] * 4 + ["v"] * 4, "successes": [0, 1, 0, 9, 2, 3, 1, 4],
                          "trials": [10, 10, 10, 10, 10, 10, 10, 10]})
    groups = units.group_by("group", maintain_order=True).agg(pl.col("successes").sum(), pl.col("trials").sum())
    row = ex.compare(groups, units=units).row(0, named=True)
    _, vc, _ = ex.cluster_variance([0, 1, 0, 9], [10] * 4)
    _, vv, _ = ex.cluster_variance([2, 3, 1, 4], [10] * 4)
    assert row["test"] == "z (clustered)"
    assert row["statistic"] == pytest.approx((10 / 40 - 10 / 40) / math.sqrt(vc + vv))
    assert row["ci_high"] - row["difference"] == pytest.approx(stats.norm.ppf(0.975) * math.sqrt(vc + vv))
    naive = ex.compare(groups).row(0, named=True)
    assert row["design_effect"] > 1 and naive["design_effect"] == 1.0
    assert "design effect" in ex.verdict(ex.compare(groups, units=units))[0]
    lonely = units.filter((pl.col("group") == "c") | (pl.col("successes") == 2))  # one contact in the variant
    row = ex.compare(groups, units=lonely).row(0, named=True)
    assert row["ci_low"] is None and not row["significant"]
    assert "too few contacts for an interval" in ex.verdict(ex.compare(groups, units=lonely))[0]
