"""Robust trend statistics with the standard library: Theil–Sen slope, Sen's interval,
Mann–Kendall test.

Used by the stress harness inside the target's environment (no numpy, no scipy there).
Two questions need them:

* *Does memory grow with every iteration of a soak?* A before/after difference is at
  the mercy of one garbage collection or one allocator arena; a rank-based trend test
  over every sample is not. Mann–Kendall counts, over all pairs ``i < j``, whether the
  later sample is higher or lower; under "no trend" the statistic ``S`` is centred on 0
  with a variance known from ``n`` and the ties, so its p-value needs no distributional
  assumption about the memory figures themselves.
* *How fast does the cost grow with the input size?* The Theil–Sen slope (median of the
  pairwise slopes) of log(time) against log(size) is the scaling exponent; one slow
  sample moves it little. Sen (1968) derives a distribution-free interval from the same
  Kendall variance: the slopes at ranks ``(N - C)/2`` and ``(N + C)/2`` of the ``N``
  sorted pairwise slopes, with ``C = z * sqrt(Var S)``.
With few points the interval's ranks fall outside the slopes; it is then the full range
of the pairwise slopes (wider, never narrower, than the nominal level asks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["Trend", "kendall_variance", "mann_kendall", "theil_sen"]


@dataclass(frozen=True, slots=True)
class Trend:
    """Theil–Sen slope with Sen's interval, and the Mann–Kendall two-sided p-value."""

    slope: float
    low: float
    high: float
    intercept: float
    p_value: float
    n: int
    confidence: float

    def to_dict(self) -> dict[str, float | int]:
        return {"slope": self.slope, "low": self.low, "high": self.high,
                "intercept": self.intercept, "p_value": self.p_value, "n": self.n,
                "confidence": self.confidence}


def _tie_groups(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [t for t in counts.values() if t > 1]


def kendall_variance(x: Sequence[float], y: Sequence[float] | None = None) -> float:
    """Variance of Kendall's S under no association, corrected for ties in x (and y)."""
    n = len(x)
    var = n * (n - 1) * (2 * n + 5)
    for values in (x, y) if y is not None else (x,):
        var -= sum(t * (t - 1) * (2 * t + 5) for t in _tie_groups(values))
    return max(var / 18.0, 0.0)


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def mann_kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided p-value of the Mann–Kendall test of a monotone trend of y in x.

    Normal approximation with continuity correction; 1.0 when there is nothing to test.
    """
    n = len(x)
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += _sign(x[j] - x[i]) * _sign(y[j] - y[i])
    var = kendall_variance(x, y)
    if var <= 0 or s == 0:
        return 1.0
    z = (s - _sign(s)) / math.sqrt(var)
    return min(1.0, 2.0 * (1.0 - NormalDist().cdf(abs(z))))


def theil_sen(x: Sequence[float], y: Sequence[float], *, confidence: float = 0.95) -> Trend:
    """Slope of y on x (median of pairwise slopes), Sen's interval, Mann–Kendall p.

    Raises ``ValueError`` for fewer than two distinct x values or non-finite input.
    """
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence!r}")
    if not all(math.isfinite(v) for v in (*x, *y)):
        raise ValueError("trend of non-finite values")
    slopes = sorted((y[j] - y[i]) / (x[j] - x[i])
                    for i in range(len(x)) for j in range(i + 1, len(x)) if x[j] != x[i])
    if not slopes:
        raise ValueError("a trend needs at least two distinct x values")
    slope = _median(slopes)
    intercept = _median([yi - slope * xi for xi, yi in zip(x, y, strict=True)])
    c = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(kendall_variance(x))
    n_slopes = len(slopes)
    lo_rank = math.floor((n_slopes - c) / 2)  # 0-based
    hi_rank = math.ceil((n_slopes + c) / 2) - 1
    low = slopes[max(lo_rank, 0)]
    high = slopes[min(hi_rank, n_slopes - 1)]
    return Trend(slope=slope, low=low, high=high, intercept=intercept,
                 p_value=mann_kendall(x, y), n=len(x), confidence=confidence)


def _median(values: Sequence[float]) -> float:
    data = sorted(values)
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2
