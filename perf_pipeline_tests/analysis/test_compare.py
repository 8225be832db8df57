"""Unit tests of compare(): reference values, argument checks, degenerate data, paired."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from scipy import stats

from perf_pipeline.analysis import compare
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Verdict

# The package re-exports the function under the module's name; reach the module itself.
compare_module = importlib.import_module("perf_pipeline.analysis.compare")


def _lognormal(rng: np.random.Generator, level: float, n: int, cv: float = 0.03) -> list[float]:
    return list(np.exp(np.log(level) + rng.normal(0, cv, n)))


def test_compare_matches_scipy_reference_values() -> None:
    base = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01, 0.99, 1.03]
    cur = [v * 1.5 for v in base]
    c = compare(base, cur)
    lb, lc = np.log(base), np.log(cur)
    assert c.ratio == pytest.approx(math.exp(np.median(np.subtract.outer(lc, lb))))
    assert c.p_value == pytest.approx(stats.mannwhitneyu(lc, lb, alternative="greater").pvalue)
    assert c.verdict == Verdict.REGRESSION
    assert c.verdict == "regression"
    assert c.ci_low <= c.ratio <= c.ci_high
    assert (c.n_baseline, c.n_current) == (10, 10)


def test_compare_improvement_is_mirror_image() -> None:
    rng = np.random.default_rng(1)
    base = _lognormal(rng, 1.0, 30)
    c = compare(base, [v / 1.5 for v in base])
    assert c.verdict == Verdict.IMPROVEMENT
    assert c.ratio == pytest.approx(1 / 1.5, rel=1e-9)


def test_compare_unchanged_when_interval_within_threshold() -> None:
    rng = np.random.default_rng(2)
    c = compare(_lognormal(rng, 1.0, 40), _lognormal(rng, 1.0, 40))
    assert c.verdict == Verdict.UNCHANGED
    assert 1 / 1.2 <= c.ci_low <= c.ci_high <= 1.2


def test_compare_inconclusive_estimates_samples_needed() -> None:
    rng = np.random.default_rng(3)
    c = compare(_lognormal(rng, 1.0, 8, cv=0.3), _lognormal(rng, 1.0, 8, cv=0.3))
    assert c.verdict == Verdict.INCONCLUSIVE
    assert c.samples_needed is not None and c.samples_needed > 0
    assert "more samples per side" in c.reason


def test_large_samples_use_bisection_and_agree_with_sorting(monkeypatch) -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(0, 1, 300), rng.normal(0.2, 1, 200)
    exact = compare_module._pair_order_stats(x, y, [1, 1000, 30000, 60000])
    monkeypatch.setattr(compare_module, "_MAX_PAIRS_IN_MEMORY", 10)
    approx = compare_module._pair_order_stats(x, y, [1, 1000, 30000, 60000])
    assert approx == pytest.approx(exact, abs=1e-9)
    d = rng.normal(0, 1, 80)
    monkeypatch.setattr(compare_module, "_MAX_PAIRS_IN_MEMORY", 10**9)
    exact_w = compare_module._walsh_order_stats(d, [1, 500, 3240])
    monkeypatch.setattr(compare_module, "_MAX_PAIRS_IN_MEMORY", 10)
    assert compare_module._walsh_order_stats(d, [1, 500, 3240]) == pytest.approx(exact_w,
                                                                                abs=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 2, float("nan")])
def test_compare_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(InvalidInputError, match="`alpha` must be in"):
        compare([1.0, 2.0], [1.0, 2.0], alpha=alpha)


@pytest.mark.parametrize("threshold", [0.5, float("inf"), float("nan")])
def test_compare_rejects_bad_threshold(threshold: float) -> None:
    with pytest.raises(InvalidInputError, match="`threshold`"):
        compare([1.0, 2.0], [1.0, 2.0], threshold=threshold)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_compare_rejects_non_finite_samples(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="`current` sample 1 is"):
        compare([1.0, 2.0], [1.0, bad])


def test_compare_rejects_negative_samples() -> None:
    with pytest.raises(InvalidInputError, match="`baseline` has negative"):
        compare([-1.0, 2.0], [1.0, 2.0])


def test_compare_rejects_unaligned_paired_samples() -> None:
    with pytest.raises(InvalidInputError, match="`paired=True` needs aligned rounds"):
        compare([1.0, 2.0], [1.0], paired=True)


def test_one_sample_each_is_inconclusive_not_a_crash() -> None:
    c = compare([1.0], [2.0])
    assert c.verdict == Verdict.INCONCLUSIVE
    assert c.ratio == pytest.approx(2.0)
    assert math.isinf(c.ci_high)
    assert c.samples_needed is not None


def test_identical_constant_samples_are_unchanged() -> None:
    c = compare([0.5] * 7, [0.5] * 7)
    assert c.verdict == Verdict.UNCHANGED
    assert (c.ratio, c.ci_low, c.ci_high, c.p_value) == (1.0, 1.0, 1.0, 1.0)


def test_constant_but_different_samples_decided_by_the_ratio() -> None:
    c = compare([1.0] * 10, [2.0] * 10)
    assert c.verdict == Verdict.REGRESSION
    assert c.ratio == pytest.approx(2.0)
    small = compare([1.0] * 3, [2.0] * 3)
    assert small.verdict == Verdict.INCONCLUSIVE  # three rounds cannot reach p < 0.01


def test_zero_times_are_inconclusive_with_reason() -> None:
    c = compare([0.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert c.verdict == Verdict.INCONCLUSIVE
    assert "zero" in c.reason
    assert compare([0.0, 0.0], [0.0, 0.0]).verdict == Verdict.UNCHANGED


def test_empty_sample_is_inconclusive() -> None:
    c = compare([], [1.0, 2.0])
    assert c.verdict == Verdict.INCONCLUSIVE
    assert "no samples in baseline" in c.reason


def test_paired_matches_wilcoxon_and_walsh_median() -> None:
    rng = np.random.default_rng(5)
    machine = rng.normal(0, 0.2, 30)  # shared round state: huge, cancels in the pairs
    base = np.exp(machine + rng.normal(0, 0.01, 30))
    cur = np.exp(machine + np.log(1.3) + rng.normal(0, 0.01, 30))
    c = compare(base, cur, paired=True)
    d = np.log(cur) - np.log(base)
    i, j = np.triu_indices(d.size)
    assert c.ratio == pytest.approx(math.exp(np.median((d[i] + d[j]) / 2)))
    assert c.p_value == pytest.approx(
        stats.wilcoxon(d, alternative="greater", zero_method="pratt").pvalue)
    assert c.verdict == Verdict.REGRESSION
    assert c.ci_low > 1.2
    # The same data unpaired: the round-to-round noise widens the interval many times.
    unpaired = compare(base, cur)
    assert (c.ci_high / c.ci_low) ** 5 < unpaired.ci_high / unpaired.ci_low


def test_paired_identical_rounds_are_unchanged() -> None:
    assert compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], paired=True).verdict == Verdict.UNCHANGED


def test_paired_p_value_is_scipys_signed_rank_on_ties_and_zeros() -> None:
    """Up to 13 rounds with ties or zeros scipy enumerates every sign pattern through its
    statistic (150 ms a call); the exact distribution here must give its very p-value."""
    from perf_pipeline.analysis.compare import EXACT_SIGNED_RANK_N, estimate_samples

    rng = np.random.default_rng(20261202)
    checked = 0
    for _ in range(40):  # scipy's side of each takes 0.15 s
        n = int(rng.integers(2, EXACT_SIGNED_RANK_N + 1))
        b = np.full(n, 1.0)
        # Rounded log-ratios: ties and zeros (exactly equal rounds) are common.
        c = np.exp(np.round(rng.normal(0.02, 0.05, n), int(rng.integers(1, 3))))
        d = np.log(c) - np.log(b)
        if np.all(d == 0):
            continue
        est = estimate_samples(b, c, paired=True, alpha=0.05)
        side = "greater" if est.log_ratio > 0 else "less"
        expected = stats.wilcoxon(d, alternative=side, zero_method="pratt").pvalue
        assert est.p_value == pytest.approx(float(expected), abs=1e-12)
        checked += 1
    assert checked > 30
