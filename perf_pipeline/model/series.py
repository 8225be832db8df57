"""A benchmark's history as columns, and the change points and drifts found in it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError

__all__ = ["ChangePoint", "Drift", "LevelShift", "MetricSeries", "Trend"]


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One benchmark and metric across runs, oldest first, in columns.

    Columns rather than a point object per run keep 500 benchmarks x 1,000 commits
    cheap to hold and to serialise into a report. ``lows``/``highs`` bound each run's
    value (e.g. the interquartile range of the run's samples; equal to the value when
    only one number exists).
    """

    name: str
    metric: str
    run_ids: tuple[str, ...]
    values: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.run_ids)
        if not (len(self.values) == len(self.lows) == len(self.highs) == n):
            raise InvalidInputError(f"series {self.name!r} {self.metric}: column lengths differ")


def _check_interval(what: str, ratio: float, low: float, high: float) -> None:
    if not (0.0 < low <= ratio <= high and math.isfinite(high)):
        raise InvalidInputError(f"{what}: need 0 < low <= ratio <= high, got "
                                f"{low!r} <= {ratio!r} <= {high!r}")


@dataclass(frozen=True, slots=True)
class LevelShift:
    """A change point in a series of per-commit values: ``index`` is the first position of
    the new level; ``ratio`` is the Hodges–Lehmann shift after/before (> 1 is slower),
    ``ratio_low``/``ratio_high`` its interval, ``p_value`` the scan's."""

    index: int
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float

    def __post_init__(self) -> None:
        if self.index < 1:
            raise InvalidInputError(f"LevelShift: `index` must be >= 1, got {self.index!r}")
        _check_interval("LevelShift", self.ratio, self.ratio_low, self.ratio_high)


@dataclass(frozen=True, slots=True)
class Trend:
    """A drift over positions ``start`` .. ``end`` (both included) of a series: ``ratio``
    is the change over that span implied by the Theil–Sen slope, with its interval."""

    start: int
    end: int
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise InvalidInputError(f"Trend: need 0 <= start < end, got {self.start!r}, "
                                    f"{self.end!r}")
        _check_interval("Trend", self.ratio, self.ratio_low, self.ratio_high)


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """A lasting change of level in a benchmark's history, starting at ``run_id``."""

    name: str
    metric: str
    run_id: str
    ratio: float  # median after / median before (> 1 is slower or bigger)


@dataclass(frozen=True, slots=True)
class Drift:
    """A slow drift of a benchmark's history from ``start_run_id`` to ``end_run_id``."""

    name: str
    metric: str
    start_run_id: str
    end_run_id: str
    ratio: float  # change over the span (> 1 is slower or bigger)
    #: How many commits the span covers: a commit's runs are one point of the history
    #: (``analysis.pool_runs_by_commit``), so not how many runs (a run without a commit
    #: is a point of its own).
    commits: int
