"""Latency percentiles of per-round samples, with the standard library only.

Its own module because two sides need it: the pytest plugin (inside the target's
environment, stdlib only) and ``results.py`` (for foreign files that carry raw samples
but not our figures), and the numbers must come out identical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["LATENCY_PERCENTILES", "latency_percentiles", "sorted_percentiles"]

#: The percentiles we report, as metric names ``p50_s`` etc.
LATENCY_PERCENTILES: tuple[int, ...] = (50, 90, 99)


def latency_percentiles(
    samples: Sequence[float], qs: Sequence[int] = LATENCY_PERCENTILES
) -> dict[str, float]:
    """``{"p50_s": ..., ...}`` by linear interpolation (numpy's default method).

    Empty or non-finite input gives ``{}``: no figure rather than a made-up one.
    """
    data = sorted(map(float, samples))  # map, not a generator: 10M samples are common
    if not data or not all(map(math.isfinite, data)):
        return {}
    return sorted_percentiles(data, qs)


def sorted_percentiles(
    ordered: Sequence[float], qs: Sequence[int] = LATENCY_PERCENTILES
) -> dict[str, float]:
    """``latency_percentiles`` of samples already sorted ascending and finite.

    The results loader sorts ten million samples as a compact float64 array (numpy)
    rather than as a list of float objects, then takes the same figures here.
    """
    if not ordered:
        return {}
    out = {}
    for q in qs:
        pos = (len(ordered) - 1) * q / 100.0
        lo = math.floor(pos)
        hi = min(lo + 1, len(ordered) - 1)
        out[f"p{q}_s"] = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return out
