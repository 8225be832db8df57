"""Interleaved A/B rounds, compared pairwise with the round's suite-wide factor removed.

Pairing cancels what the two processes of a round share, but each process still has its
own state (CPU placement, frequency, a neighbour's burst) that slows every benchmark in
it together; on a busy virtual machine that is ±10-15 % per process, which would leave a
10-round A/B run unable to see anything smaller. As in the stored-baseline comparison,
that common factor is estimated per round as the median over benchmarks of the
per-round log-ratios and removed before each benchmark's paired test; the factor itself
is tested as one more hypothesis (``SUITE_SHIFT_NAME``), so a change that slows the
whole suite is still reported. With fewer than ``MIN_BENCHMARKS_FOR_SHIFT`` benchmarks
no factor is estimated and this is ``compare_suite(paired=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.compare import _check_compare_args, estimate_samples
from perf_pipeline.analysis.multiple import CORRECTIONS, adjust_p_values, compare_suite
from perf_pipeline.analysis.own_change import judge_by_own_ratio, own_ratio, require_own_change
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.analysis.verdict import hold_raw_change, judge
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, BenchmarkComparison, SuiteComparison, Verdict

__all__ = ["compare_rounds"]

#: The largest |log-ratio| of a round: its ratio and inverse stay finite and nonzero floats.
_MAX_LOG_RATIO = 0.999 * math.log(np.finfo(float).max)


def _pair(base: np.ndarray, candidate: np.ndarray, factor: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """``(base, candidate * e^(-factor))``: the round's factor removed, as a paired
    sample. Where that over- or underflows (values near 1e+-300: a factor of 1e300 once
    came out as an "inf" blamed on a benchmark or the suite-wide shift), the residual
    log-ratios ``x`` as ``(e^(-x/2), e^(x/2))``, finite and > 0 for
    |x| < 2 * ``_MAX_LOG_RATIO``."""
    with np.errstate(over="ignore", under="ignore"):
        scaled = candidate * np.exp(-factor)
    if np.all(np.isfinite(scaled)) and np.all(scaled > 0):
        return base, scaled
    x = np.log(candidate) - np.log(base) - factor
    return np.exp(-x / 2), np.exp(x / 2)


def compare_rounds(base: Mapping[str, Sequence[float]], candidate: Mapping[str, Sequence[float]],
                   *, threshold: float = 1.2, alpha: float = 0.01,
                   correction: str = "holm") -> SuiteComparison:
    """Per benchmark, aligned per-round values of both sides (lower is better).

    Benchmarks on one side only are listed as new or missing. Every benchmark on both
    sides must have the same number of rounds. Raises ``InvalidInputError`` for NaN,
    infinite or non-positive values, and for a ratio beyond a float's range, naming the
    benchmark. A benchmark with a round of 0.0 s is left out of an A/B, not refused with
    it: callers pass their rounds through ``ab_left_out.usable_rounds`` first.
    """
    if correction not in CORRECTIONS:
        raise InvalidInputError(f"`correction` must be one of {CORRECTIONS}, got {correction!r}")
    names = sorted(set(base) & set(candidate))
    if len(names) >= MIN_BENCHMARKS_FOR_SHIFT and len(
            {len(base[n]) for n in names} | {len(candidate[n]) for n in names}) != 1:
        raise InvalidInputError("every benchmark needs the same number of rounds on both sides")
    pairs = [_check_compare_args(base[n], candidate[n], threshold=threshold, alpha=alpha,
                                 paired=True, name=n) for n in names]
    for name, (b_i, c_i) in zip(names, pairs, strict=True):
        # Checked for every suite: one of 2 benchmarks once took a zero as "inconclusive".
        if np.any(b_i == 0) or np.any(c_i == 0):
            raise InvalidInputError(f"benchmark {name!r}: a zero time has no log-ratio "
                                    "(``ab_left_out.usable_rounds`` leaves it out)")
        # A ratio no float can hold (1e-300 against 1e300) overflowed later, in the exp
        # of the rounds' factor, and was blamed on the suite-wide shift as "inf".
        far = np.flatnonzero(np.abs(np.log(c_i) - np.log(b_i)) >= _MAX_LOG_RATIO)
        if far.size:
            k = int(far[0])
            raise InvalidInputError(
                f"benchmark {name!r}, round {k + 1}: the ratio of {float(c_i[k]):g} to "
                f"{float(b_i[k]):g} "
                "is beyond the range of a float; these are not times of one benchmark "
                "(check the units)")
    if len(names) < MIN_BENCHMARKS_FOR_SHIFT:
        return compare_suite(base, candidate, threshold=threshold, alpha=alpha,
                             correction=correction, paired=True)
    b = np.array([b_i for b_i, _ in pairs])
    c = np.array([c_i for _, c_i in pairs])
    d = np.log(c) - np.log(b)
    factor = np.median(d, axis=0)  # one per round
    estimates = [estimate_samples(*_pair(b[i], c[i], factor), alpha=alpha,
                                  paired=True, name=name) for i, name in enumerate(names)]
    estimates = [replace(e, method=e.method + ", round's suite factor removed")
                 for e in estimates]
    ones = np.ones_like(factor)
    shift = replace(estimate_samples(*_pair(ones, ones, -factor), alpha=alpha,
                                     paired=True, name=SUITE_SHIFT_NAME),
                    method="suite-wide shift: per-round median log-ratio over benchmarks, "
                           "Wilcoxon signed-rank")
    labels = [*names, SUITE_SHIFT_NAME]
    every = [*estimates, shift]
    # Each benchmark's own ratio, the rounds' factor left in (``hold_raw_change``).
    raws = [*np.exp(np.median(d, axis=1)).tolist(), None]
    # Relative to a factor that moved, a call needs its own ratio too (``own_change``).
    owns = [*(own_ratio(d[i], factor) for i in range(len(names))), None]
    adjusted = adjust_p_values([e.p_value for e in every], method=correction)
    comps = [hold_raw_change(require_own_change(
                 judge(e, threshold=threshold, alpha=alpha, adjusted_p=float(p)), own), raw)
             for e, p, raw, own in zip(every, adjusted, raws, owns, strict=True)]
    shift_comp = comps[-1]
    if shift_comp.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
        # The suite moved: each benchmark's own paired test too, Holm over them
        # (``own_change.judge_by_own_ratio``).
        own_est = [replace(estimate_samples(b[i], c[i], alpha=alpha, paired=True, name=name),
                           method="paired test of its own ratio (the suite factor left in)")
                   for i, name in enumerate(names)]
        own_p = adjust_p_values([e.p_value for e in own_est], method=correction)
        comps[:-1] = [judge_by_own_ratio(
            comp, judge(e, threshold=threshold, alpha=alpha, adjusted_p=float(p)), shift_comp)
            for comp, e, p in zip(comps[:-1], own_est, own_p, strict=True)]
    return SuiteComparison(
        results=tuple(BenchmarkComparison(name=n, metric=TIME_METRIC, comparison=comp)
                      for n, comp in zip(labels, comps, strict=True)),
        correction=correction, alpha=alpha,
        new=tuple(sorted(set(candidate) - set(base))),
        missing=tuple(sorted(set(base) - set(candidate))))
