"""The regression rules of other tools, as they compare a saved run with a new one.

Study-only: the detection study applies them to the same replayed runs as perf_pipeline's
gate. Each takes the latest baseline run's samples and the current run's samples of one
benchmark and says whether the tool would call it a regression.

* pytest-benchmark ``--benchmark-compare-fail=mean:N%``: the current mean exceeds the saved
  run's mean by more than N % (no statistics);
* asv (``asv compare``/``continuous``, ``_stats.is_different``): the ratio of medians
  exceeds ``factor`` (default 1.1) AND a two-sided Mann–Whitney test gives p < 0.002;
* pyperf ``compare_to``: Student's two-sample t-test (pooled variance), two-sided at 95 %,
  and the current mean is larger;
* a within-run Mann–Whitney test (one-sided, Holm across the suite), the textbook choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from perf_pipeline.analysis import holm_adjust
from perf_pipeline.model import SuiteRun

Rule = Callable[[np.ndarray, np.ndarray], bool]


def pytest_benchmark(percent: float) -> Rule:
    def rule(base: np.ndarray, cur: np.ndarray) -> bool:
        return bool(cur.mean() > base.mean() * (1.0 + percent / 100.0))
    return rule


def asv(base: np.ndarray, cur: np.ndarray, *, factor: float = 1.1,
        p_threshold: float = 0.002) -> bool:
    if not np.median(cur) > factor * np.median(base):
        return False
    return bool(stats.mannwhitneyu(cur, base, alternative="two-sided").pvalue < p_threshold)


def pyperf(base: np.ndarray, cur: np.ndarray) -> bool:
    if not cur.mean() > base.mean():
        return False
    return bool(stats.ttest_ind(cur, base, equal_var=True).pvalue < 0.05)


RULES: dict[str, Rule] = {
    "pytest-benchmark `mean:5%`": pytest_benchmark(5),
    "pytest-benchmark `mean:10%`": pytest_benchmark(10),
    "asv (Mann–Whitney p < 0.002 and factor 1.1)": asv,
    "pyperf (t-test at 95 %)": pyperf,
}


def flagged_by(rule: Rule, baseline_runs: Sequence[SuiteRun], current: SuiteRun
               ) -> set[str]:
    """Benchmarks ``rule`` flags comparing the latest baseline run with ``current``."""
    last = {b.name: np.asarray(b.samples_s) for b in baseline_runs[-1].benchmarks}
    return {b.name for b in current.benchmarks
            if b.name in last and rule(last[b.name], np.asarray(b.samples_s))}


def within_run_flagged(baseline_runs: Sequence[SuiteRun], current: SuiteRun, *,
                       alpha: float = 0.01) -> set[str]:
    last = {b.name: np.asarray(b.samples_s) for b in baseline_runs[-1].benchmarks}
    names = [b.name for b in current.benchmarks if b.name in last]
    p = [stats.mannwhitneyu(np.asarray(current.benchmark(n).samples_s), last[n],
                            alternative="greater").pvalue for n in names]
    adjusted = holm_adjust(p)
    return {n for n, q in zip(names, adjusted, strict=True) if q < alpha}
