"""A log-linear latency histogram (HDR style) with the standard library only.

Why not the ``hdrhistogram`` package: the stress harness runs inside the *target's*
environment, where we may only count on the standard library (and psutil), and it is
staged there as plain files (``plugin_staging.stage_plugin``). HdrHistogram's idea is small
enough to carry: below ``2**SUB_BITS`` nanoseconds every value has its own bucket; above,
each power of two is cut into ``2**(SUB_BITS - 1)`` equal buckets. A bucket's width is
then at most ``2**-(SUB_BITS - 1)`` of its lower bound, and reporting its midpoint is off
by at most ``2**-SUB_BITS`` of the true value: 0.39 % at ``SUB_BITS = 8``, for any
latency from 1 ns to hours, in at most 128 buckets per doubling (sparse: a dict of the
buckets actually hit). ``benchmarks/bench_latency_histogram.py`` measures the cost of
recording and checks the error bound against exact percentiles.

The histogram is also the raw file: ``to_dict`` / ``from_dict`` keep every bucket, so a
stored run can be re-read at any percentile, merged with another, or compared bucket by
bucket (how many of today's requests were slower than yesterday's p99).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["HISTOGRAM_SCHEMA_VERSION", "SUB_BITS", "LatencyHistogram"]

#: Sub-bucket bits: relative error of a reported value is at most ``2**-SUB_BITS``.
SUB_BITS = 8
HISTOGRAM_SCHEMA_VERSION = 1
_EXACT = 1 << SUB_BITS
_HALF = 1 << (SUB_BITS - 1)


def bucket_index(value_ns: int) -> int:
    """The bucket of a non-negative integer number of nanoseconds (monotone in the value)."""
    if value_ns < _EXACT:
        return value_ns
    shift = value_ns.bit_length() - SUB_BITS
    return _EXACT + (shift - 1) * _HALF + ((value_ns >> shift) - _HALF)


def bucket_bounds(index: int) -> tuple[int, int]:
    """``[low, high)`` in nanoseconds of the bucket ``index``."""
    if index < _EXACT:
        return index, index + 1
    shift = (index - _EXACT) // _HALF + 1
    top = (index - _EXACT) % _HALF + _HALF
    return top << shift, (top + 1) << shift


class LatencyHistogram:
    """Counts of latencies by bucket, plus the exact min, max, count and sum.

    Not thread-safe on purpose: each worker records into its own histogram and the
    harness merges them afterwards, so recording takes no lock.
    """

    __slots__ = ("_max", "_min", "count", "counts", "total_ns")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total_ns = 0
        self._min = -1  # -1: nothing recorded yet
        self._max = -1

    @property
    def min_ns(self) -> int | None:
        return None if self._min < 0 else self._min

    @property
    def max_ns(self) -> int | None:
        return None if self._max < 0 else self._max

    def record_ns(self, value_ns: int) -> None:
        """Record one latency in integer nanoseconds (negative values count as 0).

        The bucket arithmetic is inlined: this runs once per operation in every worker.
        """
        if value_ns < 0:
            value_ns = 0
        if value_ns < _EXACT:
            index = value_ns
        else:
            shift = value_ns.bit_length() - SUB_BITS
            index = _EXACT - _HALF + (shift - 1) * _HALF + (value_ns >> shift)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.count += 1
        self.total_ns += value_ns
        if value_ns > self._max:
            self._max = value_ns
        if value_ns < self._min or self._min < 0:
            self._min = value_ns

    def record_s(self, value_s: float) -> None:
        self.record_ns(round(value_s * 1e9))

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """Add ``other``'s counts into this histogram; returns self."""
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n
        self.count += other.count
        self.total_ns += other.total_ns
        if other.count:
            self._max = max(self._max, other._max)
            self._min = other._min if self._min < 0 else min(self._min, other._min)
        return self

    def value_at_quantile_s(self, q: float) -> float | None:
        """The latency at quantile ``q`` in [0, 1], in seconds; None when empty.

        The bucket holding the ``ceil(q * count)``-th smallest value, reported at its
        midpoint and clamped to the exact min and max (so p100 is the true maximum).
        """
        if not self.count or self.min_ns is None or self.max_ns is None:
            return None
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], not {q!r}")
        rank = max(1, math.ceil(q * self.count))
        if rank >= self.count:
            return self.max_ns / 1e9
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                mid = low if high - low == 1 else (low + high) / 2
                return min(max(mid, self.min_ns), self.max_ns) / 1e9
        return self.max_ns / 1e9  # pragma: no cover - counts and count always agree

    def count_above_s(self, threshold_s: float) -> int:
        """How many values lie in buckets entirely above ``threshold_s`` (a lower bound)."""
        limit = threshold_s * 1e9
        return sum(n for index, n in self.counts.items() if bucket_bounds(index)[0] > limit)

    def summary(self) -> dict[str, float | int | None]:
        """p50, p90, p99, p99.9, max and mean in seconds, and the count."""
        out: dict[str, float | int | None] = {"count": self.count}
        for name, q in (("p50_s", 0.50), ("p90_s", 0.90), ("p99_s", 0.99),
                        ("p999_s", 0.999)):
            out[name] = self.value_at_quantile_s(q)
        out["max_s"] = None if self.max_ns is None else self.max_ns / 1e9
        out["mean_s"] = self.total_ns / self.count / 1e9 if self.count else None
        return out

    def to_dict(self) -> dict[str, object]:
        """Every bucket, so nothing is lost when the histogram is stored."""
        return {"schema_version": HISTOGRAM_SCHEMA_VERSION, "unit": "ns",
                "sub_bits": SUB_BITS, "count": self.count, "total_ns": self.total_ns,
                "min_ns": self.min_ns, "max_ns": self.max_ns,
                "buckets": [[i, self.counts[i]] for i in sorted(self.counts)]}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LatencyHistogram:
        """Read what ``to_dict`` wrote; a different layout is refused with ``ValueError``."""
        if data.get("schema_version") != HISTOGRAM_SCHEMA_VERSION or \
                data.get("sub_bits") != SUB_BITS or data.get("unit") != "ns":
            raise ValueError("latency histogram: unknown schema_version, sub_bits or unit")
        hist = cls()
        buckets = data.get("buckets")
        if not isinstance(buckets, list):
            raise ValueError("latency histogram: 'buckets' must be a list")
        for pair in buckets:
            index, n = int(pair[0]), int(pair[1])
            if index < 0 or n < 0:
                raise ValueError("latency histogram: negative bucket or count")
            hist.counts[index] = hist.counts.get(index, 0) + n
        hist.count = int(data.get("count") or 0)  # type: ignore[arg-type]
        if hist.count != sum(hist.counts.values()):
            raise ValueError("latency histogram: count does not match the buckets")
        hist.total_ns = int(data.get("total_ns") or 0)  # type: ignore[arg-type]
        for name, slot in (("min_ns", "_min"), ("max_ns", "_max")):
            value = data.get(name)
            setattr(hist, slot, -1 if value is None else int(value))  # type: ignore[arg-type]
        return hist

    @classmethod
    def of_seconds(cls, values_s: Iterable[float]) -> LatencyHistogram:
        hist = cls()
        for value in values_s:
            hist.record_s(value)
        return hist
