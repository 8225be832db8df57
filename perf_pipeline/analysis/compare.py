"""Compare two sets of samples of one benchmark: ``compare(baseline, current)``.

Lower is better. Everything is done on the log scale, because performance changes are
multiplicative ("10 % slower") and timings are right-skewed; a difference of logs is a
log-ratio, and the Hodges–Lehmann estimator of it is robust to the outliers a shared
machine produces.

* Unpaired (default): Hodges–Lehmann shift of log(current) vs log(baseline) (median of all
  pairwise differences), its distribution-free confidence interval from the Mann–Whitney
  null distribution (Moses' interval, normal approximation), and a one-sided Mann–Whitney
  test in the direction of the observed change.
* Paired (``paired=True``): aligned rounds of an interleaved A/B run. The per-round
  log-ratios are tested with the Wilcoxon signed-rank test; the estimate is the median of
  the Walsh averages (Hodges–Lehmann) with the matching signed-rank interval. Pairing
  removes the slow machine state both commits shared in a round.

The interval is two-sided at 1 - alpha; the test is one-sided at alpha. Neither needs a
random number: the order statistics are found by sorting, or, for very large samples, by
bisection on the value with a vectorised count (no n*m array is built).

These tests see only the samples given. They assume the samples are exchangeable, which
samples of ONE run against samples of ANOTHER run on a shared machine are not: use
``compare_to_baseline`` (run-level history) for that, or ``paired=True`` for interleaved
rounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from perf_pipeline.analysis.sign_flip import plus_sum_probabilities
from perf_pipeline.analysis.tails import norm_isf
from perf_pipeline.analysis.verdict import Estimate, judge
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Comparison

__all__ = ["compare", "estimate_samples", "signed_rank_p"]

#: Above this many pairwise differences, order statistics are found by bisection.
_MAX_PAIRS_IN_MEMORY = 1_000_000


def _check_compare_args(baseline: Sequence[float], current: Sequence[float], *,
                        threshold: float, alpha: float, paired: bool,
                        name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate the options and samples; return both samples as float arrays."""
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)
            and threshold >= 1.0):
        raise InvalidInputError(f"`threshold` must be a finite number >= 1, got {threshold!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")
    where = f"benchmark {name!r}: " if name else ""
    arrays = []
    for label, values in (("baseline", baseline), ("current", current)):
        try:
            arr = np.asarray(values, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{where}`{label}` must be a sequence of numbers") from exc
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InvalidInputError(
                f"{where}`{label}` sample {int(bad[0])} is {arr[bad[0]]!r}: "
                "NaN or infinite values cannot be compared")
        if np.any(arr < 0):
            raise InvalidInputError(f"{where}`{label}` has negative values; "
                                    "costs (time, bytes, counts) cannot be negative")
        arrays.append(arr)
    if paired and arrays[0].size != arrays[1].size:
        raise InvalidInputError(
            f"{where}`paired=True` needs aligned rounds: baseline has {arrays[0].size} "
            f"samples, current has {arrays[1].size}")
    return arrays[0], arrays[1]


def _kth(count_le: Callable[[float], float], lo: float, hi: float, k: float) -> float:
    """Smallest value t in [lo, hi] with count_le(t) >= k, by bisection on the value."""
    for _ in range(200):
        if hi - lo <= 1e-13 * (1.0 + abs(lo) + abs(hi)):
            break
        mid = 0.5 * (lo + hi)
        if count_le(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


def _pair_order_stats(x: np.ndarray, y: np.ndarray, ks: Sequence[int]) -> list[float]:
    """The ``ks``-th (1-based) smallest of all differences y_j - x_i."""
    if x.size * y.size <= _MAX_PAIRS_IN_MEMORY:
        diffs = np.sort(np.subtract.outer(y, x).ravel())
        return [float(diffs[k - 1]) for k in ks]
    xs, ys = np.sort(x), np.sort(y)

    def count_le(t: float) -> float:
        return float(np.searchsorted(ys, xs + t, side="right").sum())

    lo, hi = ys[0] - xs[-1] - 1.0, ys[-1] - xs[0]
    return [_kth(count_le, lo, hi, k) for k in ks]


def _walsh_order_stats(d: np.ndarray, ks: Sequence[int]) -> list[float]:
    """The ``ks``-th (1-based) smallest Walsh average (d_i + d_j) / 2, i <= j."""
    n = d.size
    if n * (n + 1) // 2 <= _MAX_PAIRS_IN_MEMORY:
        i, j = np.triu_indices(n)
        walsh = np.sort((d[i] + d[j]) / 2.0)
        return [float(walsh[k - 1]) for k in ks]
    ds = np.sort(d)

    def count_le(t: float) -> float:
        ordered = np.searchsorted(ds, 2.0 * t - ds, side="right").sum()
        diagonal = np.count_nonzero(ds <= t)
        return float((ordered + diagonal) / 2)

    return [_kth(count_le, ds[0] - 1.0, ds[-1], k) for k in ks]


def _median_rank(total: int) -> list[int]:
    return [(total + 1) // 2, total // 2 + 1]


def _robust_var(values: np.ndarray) -> float | None:
    """Squared scaled MAD (falls back to the variance); None with fewer than 2 values."""
    if values.size < 2:
        return None
    mad = float(stats.median_abs_deviation(values, scale="normal"))
    return mad * mad if mad > 0 else float(np.var(values, ddof=1))


def _unpaired(b: np.ndarray, c: np.ndarray, alpha: float) -> Estimate:
    lb, lc = np.log(b), np.log(c)
    n, m = lb.size, lc.size
    total = n * m
    mid = _pair_order_stats(lb, lc, _median_rank(total))
    hl = 0.5 * (mid[0] + mid[1])
    z = float(norm_isf(alpha / 2))
    k = math.floor(total / 2 - z * math.sqrt(total * (n + m + 1) / 12.0))
    if k >= 1:
        low, high = _pair_order_stats(lb, lc, [k, total + 1 - k])
    else:
        low, high = -math.inf, math.inf
    side = "greater" if hl > 0 else "less"
    if np.ptp(np.concatenate([lb, lc])) == 0:
        p = 1.0
    else:
        p = float(stats.mannwhitneyu(lc, lb, alternative=side).pvalue)
    var_b, var_c = _robust_var(lb), _robust_var(lc)
    pooled = [v for v in (var_b, var_c) if v is not None]
    units = min(n, m)
    if math.isfinite(low) and math.isfinite(high):
        var_scalable = ((high - low) / (2 * z)) ** 2
    elif pooled:
        var_scalable = float(np.mean(pooled)) * (1 / n + 1 / m)
    else:
        var_scalable = None
    # Smallest equal sample size whose Moses interval is finite at this alpha.
    min_units = next(s for s in range(1, 10_000)
                     if s * s / 2 - z * math.sqrt(s * s * (2 * s + 1) / 12.0) >= 1)
    return Estimate(
        log_ratio=hl, log_ci_low=low, log_ci_high=high, p_value=min(max(p, 0.0), 1.0),
        n_baseline=n, n_current=m,
        method="Hodges-Lehmann log-ratio, Moses interval, one-sided Mann-Whitney U",
        n_units=units, unit="samples per side", var_scalable=var_scalable,
        min_units=min_units)


#: Up to this many rounds the signed-rank p-value comes from all 2^n sign patterns
#: (scipy's own choice: above it, with ties, its normal approximation).
EXACT_SIGNED_RANK_N = 13


def signed_rank_p(d: np.ndarray, *, greater: bool) -> float:
    """The one-sided signed-rank p-value (Pratt's zeros: ranked, then left out) from its
    exact sign-flip distribution; what scipy's ``wilcoxon`` gives for n <= 13, where
    with ties it enumerates the 2^n patterns through its statistic (150 ms a call)."""
    ranks = stats.rankdata(np.abs(d))  # mid-ranks: multiples of 1/2
    scores = [round(2 * float(r)) for r, x in zip(ranks, d, strict=True) if x != 0]
    observed = round(2 * float(ranks[d > 0].sum()))
    prob = plus_sum_probabilities(scores)
    return float(prob[observed:].sum() if greater else prob[:observed + 1].sum())


def _paired(b: np.ndarray, c: np.ndarray, alpha: float) -> Estimate:
    d = np.log(c) - np.log(b)
    n = d.size
    total = n * (n + 1) // 2
    mid = _walsh_order_stats(d, _median_rank(total))
    hl = 0.5 * (mid[0] + mid[1])
    z = float(norm_isf(alpha / 2))
    k = math.floor(total / 2 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0))
    if k >= 1:
        low, high = _walsh_order_stats(d, [k, total + 1 - k])
    else:
        low, high = -math.inf, math.inf
    if np.all(d == 0):
        p = 1.0
    elif n <= EXACT_SIGNED_RANK_N:
        p = signed_rank_p(d, greater=hl > 0)
    else:
        side = "greater" if hl > 0 else "less"
        p = float(stats.wilcoxon(d, alternative=side, zero_method="pratt").pvalue)
    if math.isfinite(low) and math.isfinite(high):
        var_scalable: float | None = ((high - low) / (2 * z)) ** 2
    else:
        var_scalable = None if n < 2 else (_robust_var(d) or 0.0) / n
    min_units = next(s for s in range(1, 10_000)
                     if s * (s + 1) / 4 - z * math.sqrt(s * (s + 1) * (2 * s + 1) / 24.0) >= 1)
    return Estimate(
        log_ratio=hl, log_ci_low=low, log_ci_high=high,
        p_value=min(max(p if math.isfinite(p) else 1.0, 0.0), 1.0),
        n_baseline=n, n_current=n,
        method="paired: Hodges-Lehmann of per-round log-ratios, Wilcoxon signed-rank",
        n_units=n, unit="paired rounds", var_scalable=var_scalable, min_units=min_units)


def _degenerate(b: np.ndarray, c: np.ndarray, paired: bool) -> Estimate | None:
    """Empty samples, zeros and identical constants: defined answers, not crashes."""
    n, m = b.size, c.size
    if n == 0 or m == 0:
        which = "baseline" if n == 0 else "current"
        return Estimate(math.nan, -math.inf, math.inf, 1.0, n, m, "none",
                        note=f"no samples in {which}")
    if (np.all(b == b[0]) and np.all(c == b[0])) or (paired and np.array_equal(b, c)):
        return Estimate(0.0, 0.0, 0.0, 1.0, n, m, "identical samples",
                        note="baseline and current samples are identical")
    if np.any(b == 0) or np.any(c == 0):
        mb, mc = float(np.median(b)), float(np.median(c))
        log_ratio = math.log(mc / mb) if mb > 0 and mc > 0 else math.nan
        return Estimate(log_ratio, -math.inf, math.inf, 1.0, n, m, "none",
                        note="zero values: a ratio on the log scale is undefined")
    return None


def estimate_samples(baseline: Sequence[float], current: Sequence[float], *,
                     alpha: float = 0.01, paired: bool = False,
                     name: str | None = None) -> Estimate:
    """The raw estimate behind ``compare`` (for suite-wide correction before judging)."""
    b, c = _check_compare_args(baseline, current, threshold=1.0, alpha=alpha,
                               paired=paired, name=name)
    special = _degenerate(b, c, paired)
    if special is not None:
        return special
    return _paired(b, c, alpha) if paired else _unpaired(b, c, alpha)


def compare(baseline: Sequence[float], current: Sequence[float], *,
            threshold: float = 1.2, alpha: float = 0.01, paired: bool = False) -> Comparison:
    """Judge ``current`` against ``baseline`` samples (lower is better).

    ``ratio`` is current / baseline (Hodges–Lehmann on the log scale), ``ci_low``/
    ``ci_high`` its 1 - alpha interval, ``p_value`` the one-sided p-value in the direction
    of the observed change. See the module docstring for the methods and ``verdict.judge``
    for the rules. Raises ``InvalidInputError`` for bad options or NaN/inf/negative samples.
    """
    b, c = _check_compare_args(baseline, current, threshold=threshold, alpha=alpha,
                               paired=paired)
    special = _degenerate(b, c, paired)
    est = special if special is not None else (
        _paired(b, c, alpha) if paired else _unpaired(b, c, alpha))
    return judge(est, threshold=threshold, alpha=alpha)
