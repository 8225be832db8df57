"""Turn an estimate (log-ratio, its interval, a p-value) into one of the four verdicts.

Every comparison in this package — unpaired samples, paired A/B rounds, a run against the
run-level history of a stored baseline — ends here, so that the four words mean the same
thing everywhere and a suite-wide correction can re-decide a verdict from an adjusted
p-value without re-running the statistics:

* regression: significant (p < alpha, on the adjusted p when a correction applies) AND the
  estimated ratio exceeds ``threshold``; improvement is the mirror (ratio < 1/threshold);
* unchanged: the confidence interval lies inside [1/threshold, threshold];
* inconclusive: anything else, with an estimate of how much more data would decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from perf_pipeline.analysis.tails import norm_isf
from perf_pipeline.model import Comparison, Verdict


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a statistical method found, before a threshold and alpha judge it.

    Everything on the natural-log scale. ``var_scalable`` is the variance of the estimate
    that shrinks as ``n_units`` grows (per-side samples, paired rounds, or runs of the
    current commit) and ``var_fixed`` the part that does not (e.g. the finite baseline);
    they let ``judge`` say how much more data would decide. ``min_units`` is the count at
    which the interval first becomes finite (rank intervals need a few samples).
    """

    log_ratio: float
    log_ci_low: float
    log_ci_high: float
    p_value: float
    n_baseline: int
    n_current: int
    method: str
    note: str = ""
    n_units: int = 0
    unit: str = "samples per side"
    var_scalable: float | None = None
    var_fixed: float = 0.0
    min_units: int | None = None
    #: The log-ratio with the suite-wide shift left in, when ``log_ratio`` is relative to
    #: a removed shift (``Comparison.raw_ratio``); else None.
    raw_log_ratio: float | None = None


def exp_ratio(x: float) -> float:
    """The ratio of a log-ratio: ``inf`` past a float's range instead of OverflowError
    (values 1e-300 and 1e300 are finite and positive, their ratio is not a float)."""
    if x == math.inf:
        return math.inf
    if x == -math.inf:
        return 0.0
    if math.isnan(x):
        return math.nan
    if x > 709.0:  # beyond a float: an interval this wide is unbounded in effect
        return math.inf
    return math.exp(x)


def _units_needed(est: Estimate, target: float, z: float) -> int | None:
    """More units so that the interval's half-width falls to ``target`` (log scale)."""
    if target <= 0 or not math.isfinite(target):
        return None
    finite = math.isfinite(est.log_ci_low) and math.isfinite(est.log_ci_high)
    if not finite:
        if est.min_units is None:
            return None
        return max(1, est.min_units - est.n_units)
    if est.var_scalable is None or est.var_scalable <= 0 or est.n_units <= 0:
        return None
    room = (target / z) ** 2 - est.var_fixed
    if room <= 0:
        return None
    total = est.var_scalable * est.n_units / room
    if total > 1e9:
        return None
    return max(1, math.ceil(total) - est.n_units)


def judge(est: Estimate, *, threshold: float, alpha: float,
          adjusted_p: float | None = None) -> Comparison:
    """Decide the verdict from ``est``; significance uses ``adjusted_p`` when given."""
    p = est.p_value if adjusted_p is None else adjusted_p
    ratio = exp_ratio(est.log_ratio)
    ci_low, ci_high = exp_ratio(est.log_ci_low), exp_ratio(est.log_ci_high)
    significant = bool(p < alpha) and math.isfinite(est.log_ratio)
    log_thr = math.log(threshold)
    n_needed: int | None = None
    if significant and est.log_ratio > 0 and ratio > threshold:
        verdict = Verdict.REGRESSION
        why = f"slower by {ratio - 1:+.1%}, significant (p={p:.2g} < {alpha:g})"
    elif significant and est.log_ratio < 0 and ratio < 1 / threshold:
        verdict = Verdict.IMPROVEMENT
        why = f"faster: ratio {ratio:.3f}, significant (p={p:.2g} < {alpha:g})"
    elif (math.isfinite(est.log_ci_low) and math.isfinite(est.log_ci_high)
          and est.log_ci_low >= -log_thr - 1e-12 and est.log_ci_high <= log_thr + 1e-12):
        verdict = Verdict.UNCHANGED
        why = f"interval [{ci_low:.3f}, {ci_high:.3f}] lies within ±{threshold:g}x"
    else:
        verdict = Verdict.INCONCLUSIVE
        if not math.isfinite(est.log_ratio):
            why = "ratio undefined"
        else:
            # The effective per-test level after a correction is alpha * p / p_adjusted.
            level = alpha if adjusted_p in (None, 0) or est.p_value == 0 else (
                alpha * est.p_value / adjusted_p)
            level = min(max(level, 1e-300), 0.5)
            z_one = norm_isf(level)
            z_two = norm_isf(alpha / 2)
            magnitude = abs(est.log_ratio)
            if magnitude > log_thr and z_one > 0:
                # Decide by significance: the one-sided interval must exclude 0 (a
                # per-test level of 0.5 or more, z_one = 0, is met by any estimate).
                n_needed = _units_needed(est, magnitude * z_two / z_one, z_two)
            elif magnitude < log_thr:
                n_needed = _units_needed(est, log_thr - magnitude, z_two)
            why = (f"ratio {ratio:.3f} with interval [{ci_low:.3g}, {ci_high:.3g}] "
                   f"cannot decide at threshold {threshold:g} (p={p:.2g})")
            if n_needed is not None:
                why += f"; about {n_needed} more {est.unit} would decide"
    reason = f"{est.note}; {why}" if est.note else why
    return Comparison(
        verdict=verdict, ratio=ratio, ci_low=ci_low, ci_high=ci_high,
        p_value=est.p_value, significant=significant, threshold=threshold, alpha=alpha,
        n_baseline=est.n_baseline, n_current=est.n_current, method=est.method,
        reason=reason, samples_needed=n_needed, adjusted_p_value=adjusted_p,
        raw_ratio=None if est.raw_log_ratio is None else exp_ratio(est.raw_log_ratio))


def require_raw_change(comparison: Comparison, raw_ratio: float | None) -> Comparison:
    """A change judged relative to the suite-wide shift must also be there without it.

    Removing a run's machine factor assumes that every benchmark feels the machine alike.
    They do not: on a loaded VM, pure-Python benchmarks sped up 16 % in one run while
    numpy/scikit-learn ones stayed put, and relative to the shift those looked 25 % slower
    (a docs-only demo commit flagged). A regression whose own ratio, shift left in,
    is not beyond the threshold cannot be told apart from that: it is inconclusive (an
    interleaved A/B run settles it). Improvements mirror this.
    """
    if raw_ratio is None or not math.isfinite(raw_ratio):
        return comparison
    thr = comparison.threshold
    if comparison.verdict == Verdict.REGRESSION and not raw_ratio > thr:
        direction = "slower"
    elif comparison.verdict == Verdict.IMPROVEMENT and not raw_ratio < 1 / thr:
        direction = "faster"
    else:
        return comparison
    return replace(comparison, verdict=Verdict.INCONCLUSIVE, reason=(
        f"{comparison.reason}; but only {direction} relative to the rest of the suite: its "
        f"own ratio is {raw_ratio:.3f}, within the threshold {thr:g} (confirm with "
        "`perf-pipeline ab`)"))


def hold_raw_change(comparison: Comparison, raw_ratio: float | None, *,
                    flag: bool = False) -> Comparison:
    """The mirror of ``require_raw_change``: a benchmark whose own ratio (the suite-wide
    shift left in) is beyond the threshold is never cleared by its ratio relative to
    that shift.

    Removing the shift assumes most of the suite did not change. When half of it did,
    the median takes half the change: three of six benchmarks 30 % slower read x1.14
    relative to a shift of x1.14, and at threshold 1.2 both came out "unchanged", so the
    gate passed a 30 % slowdown. Such a benchmark is inconclusive, or with ``flag`` (the
    screen, whose flags an interleaved A/B against unflagged controls decides) flagged
    as a regression when it is the slower. At threshold 1 nothing is ever unchanged by
    its interval, and a flag needs the relative test, so nothing changes there.
    """
    thr = comparison.threshold
    if raw_ratio is None or not math.isfinite(raw_ratio) or not thr > 1.0:
        return comparison
    slower, faster = raw_ratio > thr, raw_ratio < 1.0 / thr
    if not (slower or faster):
        return comparison
    own = (f"its own ratio is {raw_ratio:.3f}, beyond the threshold {thr:g}: part of the "
           "suite-wide shift it is judged against may be its own change")
    if flag and slower and comparison.verdict is not Verdict.REGRESSION:
        return replace(comparison, verdict=Verdict.REGRESSION,
                       reason=f"{comparison.reason}; flagged anyway: {own}")
    if comparison.verdict is Verdict.UNCHANGED:
        return replace(comparison, verdict=Verdict.INCONCLUSIVE,
                       reason=f"{comparison.reason}; but {own} (confirm with "
                              "`perf-pipeline ab`)")
    return comparison
