"""Change points in a benchmark's history: where did the level move, and by how much?

Binary segmentation with a rank test: in a segment, every split that leaves at least
``min_size`` runs on each side is scored by a two-sided Mann–Whitney test of the runs
before against the runs after (rank-based, so one outlier run cannot make a change
point). The best split is kept when its p-value survives a Bonferroni correction over
the splits tried (the scan is a multiple test of its own) and the ratio of the medians
after/before is at least ``min_ratio`` either way; then both halves are searched again.
This is the E-divisive idea (as in Apache Otava) with a simpler, exact test, and it needs
no assumption on the noise beyond independent runs. Slow drifts have no single split;
``drift_ratio`` reports the change over the window by a Theil–Sen slope instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import ChangePoint

__all__ = ["change_points_of", "detect_change_points", "drift_ratio"]


def _check(values: Sequence[float], min_size: int, min_ratio: float, alpha: float) -> np.ndarray:
    if min_size < 2:
        raise InvalidInputError(f"`min_size` must be >= 2, got {min_size!r}")
    if not (math.isfinite(min_ratio) and min_ratio >= 1.0):
        raise InvalidInputError(f"`min_ratio` must be a finite number >= 1, got {min_ratio!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InvalidInputError("`values` must be finite positive numbers")
    return arr


def _best_split(logs: np.ndarray, lo: int, hi: int, min_size: int
                ) -> tuple[int, float, float] | None:
    """(split index, p-value Bonferroni-corrected, log ratio of medians) in [lo, hi).

    The rank-sum statistic of every split comes from one cumulative sum of ranks (O(n)
    per segment, so 1,000-run histories stay cheap); the best split then gets scipy's
    Mann–Whitney p-value.
    """
    seg = logs[lo:hi]
    n = seg.size
    ks = np.arange(min_size, n - min_size + 1)
    if ks.size == 0 or np.ptp(seg) == 0:
        return None
    cum = np.cumsum(stats.rankdata(seg))
    m = n - ks
    u = cum[ks - 1] - ks * (ks + 1) / 2.0
    z = np.abs(u - ks * m / 2.0) / np.sqrt(ks * m * (n + 1) / 12.0)
    k = int(ks[np.argmax(z)])
    before, after = seg[:k], seg[k:]
    p = float(stats.mannwhitneyu(after, before, alternative="two-sided").pvalue)
    return lo + k, min(1.0, p * ks.size), float(np.median(after) - np.median(before))


def detect_change_points(values: Sequence[float], *, min_size: int = 4,
                         min_ratio: float = 1.1, alpha: float = 0.01) -> tuple[int, ...]:
    """Indices where a new level starts (``values[i]`` is the first run after the change).

    ``values`` are one summary per run (e.g. run medians), oldest first.
    """
    logs = np.log(_check(values, min_size, min_ratio, alpha))
    found: list[int] = []
    stack = [(0, logs.size)]
    while stack:
        lo, hi = stack.pop()
        split = _best_split(logs, lo, hi, min_size)
        if split is None:
            continue
        k, p, log_ratio = split
        if p < alpha and abs(log_ratio) >= math.log(min_ratio):
            found.append(k)
            stack += [(lo, k), (k, hi)]
    return tuple(sorted(found))


def change_points_of(name: str, metric: str, run_ids: Sequence[str], values: Sequence[float],
                     *, min_size: int = 4, min_ratio: float = 1.1,
                     alpha: float = 0.01) -> tuple[ChangePoint, ...]:
    """``detect_change_points`` labelled with the run each new level starts at."""
    if len(run_ids) != len(values):
        raise InvalidInputError(f"series {name!r}: run_ids and values differ in length")
    arr = np.asarray(values, dtype=float)
    keep = np.isfinite(arr) & (arr > 0)
    ids = [r for r, k in zip(run_ids, keep, strict=True) if k]
    vals = arr[keep]
    out = []
    idx = detect_change_points(vals, min_size=min_size, min_ratio=min_ratio, alpha=alpha)
    bounds = (0, *idx, vals.size)
    for j, k in enumerate(idx):
        before = vals[bounds[j]:k]
        after = vals[k:bounds[j + 2]]
        out.append(ChangePoint(name=name, metric=metric, run_id=ids[k],
                               ratio=float(np.median(after) / np.median(before))))
    return tuple(out)


def drift_ratio(values: Sequence[float]) -> float:
    """Change over the whole window implied by the Theil–Sen slope of log values."""
    logs = np.log(_check(values, 2, 1.0, 0.5))
    if logs.size < 3:
        return 1.0
    slope = stats.theilslopes(logs).slope
    return float(math.exp(slope * (logs.size - 1)))
