"""Control false alarms across a suite: Holm and Benjamini–Hochberg, and ``compare_suite``.

A suite of 50 benchmarks tested at alpha = 0.01 each raises a false alarm in about 40 % of
unchanged commits. Holm's step-down procedure (the default) controls the family-wise
error rate — the chance that ANY benchmark of an unchanged commit is flagged — at alpha,
under any dependence between the tests, and is uniformly more powerful than Bonferroni.
Benjamini–Hochberg controls the expected share of false discoveries instead: more power
when many benchmarks really changed, at the price of occasional false alarms; offered as
an option for large suites that are triaged rather than gated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from perf_pipeline.analysis.compare import _check_compare_args, estimate_samples
from perf_pipeline.analysis.verdict import judge
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, BenchmarkComparison, SuiteComparison

__all__ = ["CORRECTIONS", "adjust_p_values", "bh_adjust", "compare_suite", "holm_adjust"]

CORRECTIONS = ("holm", "bh", "none")


def _as_p_array(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.size and (np.any(~np.isfinite(p)) or np.any(p < 0) or np.any(p > 1)):
        raise InvalidInputError("`p_values` must all be in [0, 1]")
    return p


def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values along the last axis (batches allowed).

    Sorted ascending, the i-th (0-based) of m p-values is multiplied by (m - i), made
    non-decreasing by a running maximum and capped at 1; back in the original order.
    """
    p = _as_p_array(p_values)
    if p.size == 0:
        return p.copy()
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    scaled = np.minimum(1.0, np.maximum.accumulate(sorted_p * (m - np.arange(m)), axis=-1))
    out = np.empty_like(scaled)
    np.put_along_axis(out, order, scaled, axis=-1)
    return out


def bh_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (scipy's ``false_discovery_control``)."""
    p = _as_p_array(p_values)
    if p.size == 0:
        return p.copy()
    return np.asarray(stats.false_discovery_control(p, axis=-1, method="bh"))


def adjust_p_values(p_values: Sequence[float] | np.ndarray, *, method: str = "holm"
                    ) -> np.ndarray:
    """Adjust by ``method``: "holm" (family-wise), "bh" (false discovery rate) or "none"."""
    if method not in CORRECTIONS:
        raise InvalidInputError(f"`correction` must be one of {CORRECTIONS}, got {method!r}")
    if method == "holm":
        return holm_adjust(p_values)
    if method == "bh":
        return bh_adjust(p_values)
    return _as_p_array(p_values).copy()


def compare_suite(baseline: Mapping[str, Sequence[float]],
                  current: Mapping[str, Sequence[float]], *,
                  threshold: float = 1.2, alpha: float = 0.01, correction: str = "holm",
                  paired: bool = False, failed: Sequence[str] = ()) -> SuiteComparison:
    """Compare every benchmark present on both sides and correct across the suite.

    Verdicts and ``significant`` are decided on the adjusted p-value, recorded in each
    comparison's ``adjusted_p_value``. Benchmarks only in ``current`` are ``new``, only in
    ``baseline`` ``missing``; names in ``failed`` are listed and not compared. NaN or
    infinite samples raise ``InvalidInputError`` naming the benchmark.
    """
    _check_compare_args((), (), threshold=threshold, alpha=alpha, paired=False)
    if correction not in CORRECTIONS:
        raise InvalidInputError(f"`correction` must be one of {CORRECTIONS}, got {correction!r}")
    failed_set = set(failed)
    names = sorted((set(baseline) & set(current)) - failed_set)
    estimates = [estimate_samples(baseline[n], current[n], alpha=alpha, paired=paired, name=n)
                 for n in names]
    adjusted = adjust_p_values([e.p_value for e in estimates], method=correction)
    results = tuple(
        BenchmarkComparison(name=n, metric=TIME_METRIC,
                            comparison=judge(e, threshold=threshold, alpha=alpha,
                                             adjusted_p=float(p)))
        for n, e, p in zip(names, estimates, adjusted, strict=True))
    return SuiteComparison(
        results=results, correction=correction, alpha=alpha,
        new=tuple(sorted(set(current) - set(baseline) - failed_set)),
        missing=tuple(sorted(set(baseline) - set(current) - failed_set)),
        failed=tuple(sorted(failed_set)))
