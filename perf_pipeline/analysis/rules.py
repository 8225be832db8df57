"""Decision rules applied to whole batches of simulated suites, for the detection study.

Each rule takes samples shaped (trials, benchmarks, runs, samples) as made by
``simulation.simulate_suites`` (runs 0..k-1 baseline, run k current) and returns a boolean
array (trials, benchmarks): which benchmarks the rule calls a regression. ``ours`` also
returns whether the suite-wide shift was called a regression.

The other tools' rules, as they compare a stored run with a new one:
* pytest-benchmark ``--benchmark-compare-fail=mean:N%``: the current mean exceeds the
  saved run's mean by more than N % (no statistics);
* asv (``asv compare``/``continuous``, ``_stats.is_different``): the ratio of medians
  exceeds ``factor`` (default 1.1) AND a two-sided Mann–Whitney test of the two runs'
  samples gives p < 0.002;
* pyperf ``compare_to``: Student's two-sample t-test (pooled variance), two-sided at 95 %,
  and the current mean is larger.
They see the latest baseline run only, as those tools do.

``ab_rule`` takes per-round medians of interleaved A/B runs instead
(``simulation.simulate_ab_rounds``) and runs the real ``compare_rounds`` on each trial.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from perf_pipeline.analysis.multiple import adjust_p_values, compare_suite
from perf_pipeline.analysis.rounds import compare_rounds
from perf_pipeline.analysis.runlevel import PRIOR_RUN_CV, run_level_test

__all__ = [
    "ab_rule",
    "asv_rule",
    "ours_rule",
    "pyperf_rule",
    "pytest_benchmark_rule",
    "within_run_rule",
]


def _last_two(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return samples[:, :, -2, :], samples[:, :, -1, :]


def ours_rule(samples: np.ndarray, *, threshold: float = 1.0, alpha: float = 0.01,
              correction: str = "holm") -> tuple[np.ndarray, np.ndarray]:
    """Run-level test on run medians (see ``runlevel``), corrected across the suite.

    Returns (benchmark flags (trials, benchmarks), suite-shift flags (trials,)).
    """
    log_medians = np.log(np.median(samples, axis=-1))
    res = run_level_test(log_medians[..., :-1], log_medians[..., -1], prior_cv=PRIOR_RUN_CV)
    p = np.concatenate([res.p_value, res.shift_p_value[..., None]], axis=-1)
    adjusted = adjust_p_values(np.nan_to_num(p, nan=1.0), method=correction)
    log_thr = np.log(threshold)
    # As compare_to_baseline: relative to the suite shift AND on its own ratio.
    raw = log_medians[..., -1] - np.log(np.median(np.exp(log_medians[..., :-1]), axis=-1))
    bench = ((adjusted[..., :-1] < alpha) & (res.delta > 0) & (res.delta > log_thr)
             & (raw > log_thr))
    shift = (adjusted[..., -1] < alpha) & (res.shift > 0) & (res.shift > log_thr)
    return bench, shift


def within_run_rule(samples: np.ndarray, *, alpha: float = 0.01,
                    correction: str = "holm") -> np.ndarray:
    """One-sided Mann–Whitney on the last baseline run's samples vs the current run's."""
    base, cur = _last_two(samples)
    p = stats.mannwhitneyu(cur, base, alternative="greater", axis=-1).pvalue
    return adjust_p_values(p, method=correction) < alpha


def pytest_benchmark_rule(samples: np.ndarray, *, percent: float) -> np.ndarray:
    """``--benchmark-compare-fail=mean:{percent}%`` against the latest saved run."""
    base, cur = _last_two(samples)
    return cur.mean(axis=-1) > base.mean(axis=-1) * (1.0 + percent / 100.0)


def asv_rule(samples: np.ndarray, *, factor: float = 1.1, p_threshold: float = 0.002
             ) -> np.ndarray:
    """asv: median ratio > ``factor`` and two-sided Mann–Whitney p < ``p_threshold``."""
    base, cur = _last_two(samples)
    p = stats.mannwhitneyu(cur, base, alternative="two-sided", axis=-1).pvalue
    return (np.median(cur, axis=-1) > factor * np.median(base, axis=-1)) & (p < p_threshold)


def pyperf_rule(samples: np.ndarray) -> np.ndarray:
    """pyperf: pooled two-sample t-test significant at 95 % and the mean got larger."""
    base, cur = _last_two(samples)
    p = stats.ttest_ind(cur, base, axis=-1, equal_var=True).pvalue
    return (p < 0.05) & (cur.mean(axis=-1) > base.mean(axis=-1))


def ab_rule(base: np.ndarray, candidate: np.ndarray, *, threshold: float = 1.0,
            alpha: float = 0.01, remove_factor: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved A/B arrays (trials, benchmarks, rounds) through the product's comparison.

    ``remove_factor=False`` uses the plain paired ``compare_suite`` for contrast. Returns
    (benchmark flags (trials, benchmarks), suite-shift flags (trials,)).
    """
    trials, benchmarks, _ = base.shape
    names = [f"b{i:04d}" for i in range(benchmarks)]
    bench = np.zeros((trials, benchmarks), dtype=bool)
    shift = np.zeros(trials, dtype=bool)
    for t in range(trials):
        b = {n: base[t, i] for i, n in enumerate(names)}
        c = {n: candidate[t, i] for i, n in enumerate(names)}
        result = (compare_rounds(b, c, threshold=threshold, alpha=alpha) if remove_factor
                  else compare_suite(b, c, threshold=threshold, alpha=alpha, paired=True))
        flagged = {r.name for r in result.regressions}
        bench[t] = [n in flagged for n in names]
        shift[t] = len(flagged - set(names)) > 0
    return bench, shift
