"""The metrics a benchmark can have, and how sensitive each one's gate is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["METRICS", "TIME_METRIC", "MetricSpec"]


#: The metric that holds the timed samples of a benchmark.
TIME_METRIC = "time_s"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a metric means and how sensitive its default gate is.

    Memory and I/O are nearly deterministic for the same code, so a small relative change
    is already news; times are noisy, so their default threshold is wider.
    """

    name: str
    unit: str
    label: str
    default_threshold: float
    #: Smaller absolute changes are never a regression: +30 % of a 2 KiB peak is noise
    #: for anyone who owns an ML pipeline, however certain it is statistically.
    min_abs_change: float = 0.0
    #: Whether 0 is a possible measurement. Times and sizes of something that ran are
    #: > 0; counters (GC runs, I/O bytes, CPU ticks of a short call, heap growth) can be 0.
    zero_ok: bool = False


METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        # pytest-benchmark stores each round's time divided by its iterations: a sample
        # is one call's time ("time per round" read 267 ns for rounds of 18 such calls).
        MetricSpec("time_s", "s", "time per call", 1.2),
        MetricSpec("p50_s", "s", "p50 latency", 1.2),
        MetricSpec("p90_s", "s", "p90 latency", 1.25),
        MetricSpec("p99_s", "s", "p99 latency", 1.3),
        MetricSpec("peak_rss_bytes", "B", "peak RSS", 1.1, min_abs_change=4 * 2**20),
        MetricSpec("tracemalloc_peak_bytes", "B", "tracemalloc peak", 1.1,
                   min_abs_change=256 * 2**10, zero_ok=True),
        MetricSpec("cpu_user_s", "s", "CPU user time", 1.2, zero_ok=True),
        MetricSpec("cpu_system_s", "s", "CPU system time", 1.5, zero_ok=True),
        MetricSpec("io_read_bytes", "B", "I/O read", 1.5, min_abs_change=64 * 2**10,
                   zero_ok=True),
        MetricSpec("io_write_bytes", "B", "I/O written", 1.5, min_abs_change=64 * 2**10,
                   zero_ok=True),
        MetricSpec("gc_collections", "count", "GC collections", 1.5, min_abs_change=1.0,
                   zero_ok=True),
    )
}
