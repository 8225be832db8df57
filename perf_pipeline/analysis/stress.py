"""Regression analysis of stress figures: each figure with its own direction, test and
threshold.

A stress run is one process of long, loaded scenarios, so there are no replicate runs
to build a run-to-run spread from as for benchmarks. Each rule therefore uses what the
figure itself carries:

* ``throughput_ops_s`` (higher is better): loaded throughput on a shared machine moves by
  ±15-20 % run to run, so a drop must pass ``throughput_ratio`` (1.3: the current run
  does less than 1/1.3 of the baseline's work per second) AND a conditional Poisson rate
  test on the operation counts, so a handful of operations cannot decide.
* ``p99_s`` (lower is better): the ratio must pass ``p99_ratio`` AND the tail must be
  heavier by a test on the histograms: under "no change", each of the current run's n
  latencies exceeds the baseline's p99 with probability 0.01, so the count above it is
  Binomial(n, 0.01); a one-sided binomial test at ``alpha`` says whether the excess is
  more than chance. The count uses buckets entirely above the baseline p99 (a lower
  bound). Latencies of one run are autocorrelated (a busy spell slows a run of them), so
  the binomial p-value is optimistic; the exceedance must also be at least twice the
  expected 1 % before it counts.
* ``breaking_point`` (higher is better): load steps double, so a breaking point one step
  lower is half the load the code held before; lower is a regression, higher an
  improvement. No threshold beyond the step itself.
* ``exponent`` (lower is better): a regression when the scaling exponent rose by at
  least ``exponent_delta`` AND the two intervals do not overlap (current low above the
  baseline's high): a faster-growing cost even when the small case looks fine.
* ``leak`` (1 = leaking): a leak appeared (baseline 0, current 1) is a regression; a leak
  gone is an improvement; leaking in both is reported as such (unchanged, still a leak).
* ``error_rate`` (lower is better): a regression when it rose by more than
  ``error_rate_delta`` (absolute).
Other figures (p99.9, growth per iteration) are shown, not judged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import StressComparison, StressFigure, Verdict

__all__ = ["JUDGED_STRESS_FIGURES", "bucket_low", "compare_stress"]

#: The figures with a rule, and the direction in which they get better.
JUDGED_STRESS_FIGURES = {"throughput_ops_s": "higher", "p99_s": "lower",
                         "breaking_point": "higher", "exponent": "lower", "leak": "lower",
                         "error_rate": "lower"}


def bucket_low(index: int, sub_bits: int) -> int:
    """The lower bound in ns of bucket ``index`` of a stored log-linear latency histogram
    (``measure/latency_histogram.py`` writes them; this layer only reads their JSON)."""
    exact, half = 1 << sub_bits, 1 << (sub_bits - 1)
    if index < exact:
        return index
    shift = (index - exact) // half + 1
    return ((index - exact) % half + half) << shift


def _count_above(histogram_json: str | None, threshold_s: float) -> tuple[int, int] | None:
    """(values in buckets entirely above ``threshold_s``, all values) of a stored histogram."""
    if not histogram_json:
        return None
    try:
        data = json.loads(histogram_json)
        sub_bits = int(data["sub_bits"])
        limit = threshold_s * 1e9
        above = total = 0
        for index, n in data["buckets"]:
            total += int(n)
            if bucket_low(int(index), sub_bits) > limit:
                above += int(n)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"stored latency histogram is malformed: {exc}") from exc
    return above, total


def _rate_test(base_count: int | None, base_rate: float, cur_count: int | None,
               cur_rate: float) -> tuple[float | None, float | None]:
    """One-sided p-values (current rate lower, current rate higher) of the conditional
    test of two Poisson counts: given ``n`` operations in all, the current run's share is
    binomial with the share of the time it ran. Machine load moves throughput far more
    than counting noise, so this only keeps a ratio on a handful of operations from
    deciding; the ratio threshold carries the rest. (None, None) without counts."""
    if not base_count or not cur_count or base_rate <= 0 or cur_rate <= 0:
        return None, None
    from scipy import stats

    t_base, t_cur = base_count / base_rate, cur_count / cur_rate
    n, share = base_count + cur_count, t_cur / (t_base + t_cur)
    return (float(stats.binom.cdf(cur_count, n, share)),
            float(stats.binom.sf(cur_count - 1, n, share)))


def _binomial_sf(k: int, n: int, p: float) -> float:
    from scipy import stats

    return float(stats.binom.sf(k - 1, n, p))  # P(X >= k)


def _judge(base: StressFigure | None, cur: StressFigure, *, throughput_ratio: float,
           p99_ratio: float, alpha: float, exponent_delta: float,
           error_rate_delta: float) -> StressComparison:
    def out(verdict: Verdict, rule: str, detail: str) -> StressComparison:
        return StressComparison(test=cur.test, scenario=cur.scenario, figure=cur.figure,
                                verdict=verdict, baseline=base.value if base else None,
                                current=cur.value, rule=rule, detail=detail)

    figure = cur.figure
    if base is None or base.value is None:
        return out(Verdict.INCONCLUSIVE, "none", "no baseline figure to compare with")
    if cur.value is None:  # e.g. no latency: nothing completed (the error rate says why)
        return out(Verdict.INCONCLUSIVE, "none", "no figure in this run to compare")
    b, c = base.value, cur.value
    if figure == "throughput_ops_s":
        rule = f"ratio {throughput_ratio:g} and conditional Poisson rate test at {alpha:g}"
        if b <= 0:
            return out(Verdict.INCONCLUSIVE, rule, "baseline throughput is 0")
        ratio = c / b
        p_low, p_high = _rate_test(base.count, b, cur.count, c)
        detail = f"throughput x{ratio:.2f}" + (
            "; no operation counts: the ratio alone decides" if p_low is None
            else f"; p={min(p_low, p_high):.2g}")
        if ratio < 1 / throughput_ratio and (p_low is None or p_low < alpha):
            return out(Verdict.REGRESSION, rule, detail)
        if ratio > throughput_ratio and (p_high is None or p_high < alpha):
            return out(Verdict.IMPROVEMENT, rule, detail)
        if 1 / throughput_ratio <= ratio <= throughput_ratio:
            return out(Verdict.UNCHANGED, rule, detail)
        return out(Verdict.INCONCLUSIVE, rule, detail + " (too few operations to tell)")
    if figure == "p99_s":
        rule = f"ratio {p99_ratio:g} and binomial exceedance test at {alpha:g}"
        counted = _count_above(cur.histogram_json, b)
        ratio = c / b if b > 0 else math.inf
        if counted is None or counted[1] == 0:
            return out(Verdict.INCONCLUSIVE, rule, f"p99 x{ratio:.2f}; no histogram to test")
        above, n = counted
        p_value = _binomial_sf(above, n, 0.01) if above else 1.0
        detail = (f"p99 x{ratio:.2f}; {above} of {n} above the baseline p99 "
                  f"(expected {n * 0.01:.1f}, p={p_value:.2g})")
        if ratio > p99_ratio and p_value < alpha and above >= 0.02 * n:
            return out(Verdict.REGRESSION, rule, detail)
        if ratio < 1 / p99_ratio:
            return out(Verdict.IMPROVEMENT, rule, detail)
        return out(Verdict.UNCHANGED if p_value >= alpha or ratio <= p99_ratio
                   else Verdict.INCONCLUSIVE, rule, detail)
    if figure == "breaking_point":
        rule = "any step lower"
        detail = f"held {c:g} (baseline {b:g})"
        if c < b:
            return out(Verdict.REGRESSION, rule, detail)
        return out(Verdict.IMPROVEMENT if c > b else Verdict.UNCHANGED, rule, detail)
    if figure == "exponent":
        rule = f"rise >= {exponent_delta:g} with disjoint intervals"
        detail = (f"{c:.2f} [{_f(cur.low)}, {_f(cur.high)}] vs "
                  f"{b:.2f} [{_f(base.low)}, {_f(base.high)}]")
        if None in (cur.low, cur.high, base.low, base.high):
            return out(Verdict.INCONCLUSIVE, rule, detail + "; no interval")
        if c - b >= exponent_delta and cur.low > base.high:  # type: ignore[operator]
            return out(Verdict.REGRESSION, rule, detail)
        if b - c >= exponent_delta and cur.high < base.low:  # type: ignore[operator]
            return out(Verdict.IMPROVEMENT, rule, detail)
        return out(Verdict.UNCHANGED, rule, detail)
    if figure == "leak":
        rule = "leak verdict (Mann-Kendall + Theil-Sen floor)"
        if c >= 0.5 > b:
            return out(Verdict.REGRESSION, rule, "a leak appeared")
        if b >= 0.5 > c:
            return out(Verdict.IMPROVEMENT, rule, "the leak is gone")
        return out(Verdict.UNCHANGED, rule, "leaks in both runs" if c >= 0.5 else "no leak")
    if figure == "error_rate":
        rule = f"rise > {error_rate_delta:g}"
        detail = f"{c:.3%} (baseline {b:.3%})"
        if c - b > error_rate_delta:
            return out(Verdict.REGRESSION, rule, detail)
        if b - c > error_rate_delta:
            return out(Verdict.IMPROVEMENT, rule, detail)
        return out(Verdict.UNCHANGED, rule, detail)
    raise InvalidInputError(f"no rule for stress figure {figure!r}")  # pragma: no cover


def _f(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def compare_stress(baseline: Sequence[StressFigure], current: Sequence[StressFigure], *,
                   throughput_ratio: float = 1.3, p99_ratio: float = 1.5,
                   alpha: float = 0.01, exponent_delta: float = 0.25,
                   error_rate_delta: float = 0.01) -> tuple[StressComparison, ...]:
    """Judge every judged figure of ``current`` against the same figure of ``baseline``."""
    if not throughput_ratio > 1 or not p99_ratio > 1:
        raise InvalidInputError("throughput_ratio and p99_ratio must be > 1")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"`alpha` must be in (0, 1), not {alpha!r}")
    if not exponent_delta > 0 or not error_rate_delta >= 0:
        raise InvalidInputError("exponent_delta must be > 0 and error_rate_delta >= 0")
    by_key = {f.key: f for f in baseline}
    return tuple(
        _judge(by_key.get(f.key), f, throughput_ratio=throughput_ratio, p99_ratio=p99_ratio,
               alpha=alpha, exponent_delta=exponent_delta, error_rate_delta=error_rate_delta)
        for f in current if f.figure in JUDGED_STRESS_FIGURES)
