"""An A/B's call relative to the round's suite factor must be there in the benchmark's own
ratio too, when the suite itself moved.

The A/B divides each round's suite-wide factor (a median of per-benchmark log-ratios) out
of every benchmark, which cancels what a process does to all of its benchmarks. It
assumes most of the suite did not change. When most of it did (a shared tokenizer ~x10
slower in 4 of 7 benchmarks), the median is their change, and the benchmarks that did
not change read x0.22 relative to it: an A/B called three untouched benchmarks
"improvements" under "2 significant regressions". The stored-baseline screen refuses
such a change (``verdict.require_raw_change``, by its own ratio against the threshold);
the A/B, whose threshold is often 1.0, checks the own ratio against its noise instead:

* only when the suite moved: the mean of the rounds' factors is beyond its own noise at
  ``alpha`` (two-sided t). Otherwise the factor is process noise, removing it is what
  makes a 5 % change visible, and the own ratio (that noise left in) could only lose
  power (replayed: ``benchmarks/detection.py``);
* a regression (improvement) then stands only if the benchmark's own per-round
  log-ratios are above (below) zero beyond their noise, by the same two-sided t at
  ``alpha``. One that is not is unchanged (its own ratio is ~1.0 and the suite moved), or
  inconclusive when its own ratio moved the other way beyond that noise (faster relative
  to a suite that slowed more than it did). At a one-sided 5 % instead, one of the 15
  untouched benchmarks of this rule's test (5 suites, 4 of 7 slowed x3) stayed an
  "improvement".

When the suite-wide shift is itself called (a target of its own, significant at its
level), the relative ratios are not the benchmarks' changes at all: 4 of 7 benchmarks x3
slower read +4 % relative to a factor of x2.75 and came out as "+4 % regressions" beside a
suite-wide shift, while a reader needs "these four, x3". Each benchmark is then judged by
its own ratio as well (``judge_by_own_ratio``), by its own test at its own share of the
level (Holm over the benchmarks in a fixed-round A/B, the target's Bonferroni share in a
sequential one); its own call, when it makes one, is the verdict. This adds no false
alarm to an unchanged commit: an own call needs the shift called, which is one already.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from perf_pipeline.analysis.tails import t_isf, t_sf
from perf_pipeline.analysis.verdict import Estimate
from perf_pipeline.model import Comparison, Verdict

__all__ = ["OwnRatio", "judge_by_own_ratio", "own_estimate", "own_ratio", "own_ratios",
           "require_own_change"]

_CALLS = (Verdict.REGRESSION, Verdict.IMPROVEMENT)


@dataclass(frozen=True, slots=True)
class OwnRatio:
    """A benchmark's own per-round log-ratios (the suite factor left in) and the rounds'
    factors, each as mean, standard error and degrees of freedom."""

    log_mean: float
    log_se: float
    df: float
    shift_log_mean: float
    shift_log_se: float
    shift_df: float


def _summary(x: np.ndarray) -> tuple[float, float, float]:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan, math.nan
    return float(np.mean(x)), float(np.std(x, ddof=1) / math.sqrt(x.size)), x.size - 1.0


def own_ratio(log_ratios: np.ndarray, factors: np.ndarray) -> OwnRatio:
    """From one benchmark's per-round log-ratios (candidate over base) and the rounds'
    suite factors (log), aligned; rounds where either is missing (nan) take no part."""
    both = np.isfinite(log_ratios) & np.isfinite(factors)
    return OwnRatio(*_summary(log_ratios[both]), *_summary(factors[both]))


def own_ratios(log_ratios: np.ndarray, factors: np.ndarray) -> tuple[OwnRatio, ...]:
    """``own_ratio`` of each column of ``log_ratios`` (rounds x benchmarks), every round
    present in both (no nan): the factors summarised once, the columns' means and spreads
    in one call each (one benchmark at a time, this was a ninth of a replay's time). Each
    column is reduced as a contiguous row, which sums in the same order as ``own_ratio``."""
    shift = _summary(factors)
    rows = np.ascontiguousarray(log_ratios.T)
    n = rows.shape[1]
    if n < 2:
        return tuple(OwnRatio(math.nan, math.nan, math.nan, *shift) for _ in rows)
    mean = np.mean(rows, axis=1)
    se = np.std(rows, axis=1, ddof=1) / math.sqrt(n)
    return tuple(OwnRatio(float(m), float(e), n - 1.0, *shift)
                 for m, e in zip(mean, se, strict=True))


def _beyond(mean: float, se: float, df: float, level: float) -> bool:
    """``mean`` above zero beyond its noise at one-sided ``level`` (a zero spread: any
    nonzero mean is)."""
    if not (math.isfinite(mean) and math.isfinite(se) and df >= 1):
        return False
    if se <= 0:
        return mean > 0
    return mean / se > t_isf(level, df)


def require_own_change(comparison: Comparison, own: OwnRatio | None) -> Comparison:
    """``comparison`` (relative to the rounds' suite factor), unless the suite moved and
    the benchmark's own ratio did not move its way (module docstring)."""
    if own is None or comparison.verdict not in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
        return comparison
    side = comparison.alpha / 2.0
    if not _beyond(abs(own.shift_log_mean), own.shift_log_se, own.shift_df, side):
        return comparison
    sign = 1.0 if comparison.verdict is Verdict.REGRESSION else -1.0
    if _beyond(sign * own.log_mean, own.log_se, own.df, side):
        return comparison
    word = "slower" if sign > 0 else "faster"
    half = (float(t_isf(side, own.df)) * own.log_se
            if own.log_se > 0 else 0.0)
    own_text = (f"its own ratio is {math.exp(own.log_mean):.3f} ({1 - comparison.alpha:.0%} "
                f"interval "
                f"[{math.exp(own.log_mean - half):.3f}, {math.exp(own.log_mean + half):.3f}])")
    suite = f"the suite moved x{math.exp(own.shift_log_mean):.3f} per round"
    opposite = _beyond(-sign * own.log_mean, own.log_se, own.df, side)
    if opposite:
        verdict = Verdict.INCONCLUSIVE
        why = (f"only {word} relative to the suite factor: {own_text}, the other way, and "
               f"{suite}; which of them changed cannot be told")
    else:
        verdict = Verdict.UNCHANGED
        why = (f"not {word} itself, only relative to the suite factor: {own_text}, ~1.0 "
               f"within its noise, and {suite}")
    return replace(comparison, verdict=verdict, significant=False, samples_needed=None,
                   raw_ratio=math.exp(own.log_mean),
                   reason=f"{comparison.reason}; but {why}")


def own_estimate(own: OwnRatio, level: float) -> Estimate | None:
    """The benchmark's own paired t (the suite factor left in), its interval at two-sided
    ``level``; None without two rounds of it."""
    mean, se, df = own.log_mean, own.log_se, own.df
    if not (math.isfinite(mean) and math.isfinite(se) and df >= 1):
        return None
    if se <= 0:
        p, half = (1.0 if mean == 0 else 0.0), 0.0
    else:
        p = min(1.0, 2.0 * float(t_sf(abs(mean) / se, df)))
        half = float(t_isf(level / 2.0, df)) * se
    rounds = int(df) + 1
    return Estimate(log_ratio=mean, log_ci_low=mean - half, log_ci_high=mean + half,
                    p_value=p, n_baseline=rounds, n_current=rounds,
                    method="paired t of its own per-round log-ratios (the suite factor "
                           "left in)",
                    n_units=rounds, unit="rounds", var_scalable=se * se)


def judge_by_own_ratio(relative: Comparison, own: Comparison | None,
                       shift: Comparison | None) -> Comparison:
    """``own`` (the benchmark's own test, judged at its share of the level) when the
    suite-wide shift ``shift`` and ``own`` are both calls (module docstring); otherwise
    ``relative``, as ``require_own_change`` left it."""
    if (own is None or shift is None or shift.verdict not in _CALLS
            or own.verdict not in _CALLS):
        return relative
    return replace(own, reason=(
        f"judged by its own ratio, since the suite-wide shift (x{shift.ratio:.3f}) is a "
        f"change too: {own.reason}; relative to that shift it reads x{relative.ratio:.3f}"))
