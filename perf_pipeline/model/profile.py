"""Profiles of a benchmark (cProfile, tracemalloc) and their diffs between commits."""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.finite import check_finite
from perf_pipeline.model.schema_version import SCHEMA_VERSION

__all__ = ["PROFILE_STATUSES", "AllocationChange", "AllocationSite", "FlameNode",
           "FunctionChange", "FunctionProfile", "MemoryProfile", "ProfileComparison",
           "ProfileDiff", "Spread", "TimeProfile"]


#: Status of a function or allocation site in a profile diff.
PROFILE_STATUSES = ("changed", "new", "vanished")


@dataclass(frozen=True, slots=True)
class FunctionProfile:
    """One function in one cProfile run, in totals over the run's ``calls`` benchmark calls.

    ``key`` names the function as a person reads it: ``path:name`` with the path
    relative to the target repo (no line number: it moves with every edit above), the
    C function's own name (``<built-in method builtins.sum>``), or the package name
    (``numpy``) for a folded library. ``package`` is the library it belongs to (None for the
    target's own code and built-ins). ``callers`` are the edges of the call graph:
    ``(caller key, calls, own_s, cum_s)`` spent in this function when called from there.
    """

    key: str
    calls: int
    own_s: float
    cum_s: float
    package: str | None = None
    callers: tuple[tuple[str, int, float, float], ...] = ()

    def __post_init__(self) -> None:
        check_finite((self.own_s, self.cum_s), f"profile of {self.key!r}")
        object.__setattr__(self, "callers", tuple(
            (str(k), int(n), float(own), float(cum)) for k, n, own, cum in self.callers))


@dataclass(frozen=True, slots=True)
class TimeProfile:
    """A cProfile run of one benchmark: ``calls`` calls of it, every function seen."""

    benchmark: str
    calls: int
    functions: tuple[FunctionProfile, ...]
    path: str | None = None  # the .prof file

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise InvalidInputError(f"profile of {self.benchmark!r}: calls must be >= 1")
        object.__setattr__(self, "functions", tuple(self.functions))


@dataclass(frozen=True, slots=True)
class AllocationSite:
    """Memory an allocation line still held after a run's calls (tracemalloc growth)."""

    site: str  # path:line, relative to the target repo
    size_bytes: int
    count: int
    package: str | None = None


@dataclass(frozen=True, slots=True)
class MemoryProfile:
    """tracemalloc growth by line over ``calls`` calls, and RSS over time (mprof-style)."""

    benchmark: str
    calls: int
    sites: tuple[AllocationSite, ...]
    peak_bytes: int = 0
    series_calls: int = 0
    series_t_s: tuple[float, ...] = ()
    series_rss_bytes: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.calls < 1:
            raise InvalidInputError(f"memory profile of {self.benchmark!r}: calls must be >= 1")
        if len(self.series_t_s) != len(self.series_rss_bytes):
            raise InvalidInputError(f"memory profile of {self.benchmark!r}: series lengths differ")
        for name in ("sites", "series_t_s", "series_rss_bytes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and range of one figure over the repeats of one side."""

    median: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class FunctionChange:
    """One function, base against candidate, per benchmark call (medians over repeats).

    ``beyond_spread``: the change is larger than the repeats' own spread (the sides' ranges
    of own time per call do not overlap) and than the noise floor; only such rows rank.
    """

    key: str
    status: str  # one of PROFILE_STATUSES
    base_own: Spread
    candidate_own: Spread
    base_cum: Spread
    candidate_cum: Spread
    base_share: Spread  # own time / the benchmark's profiled time, per repeat
    candidate_share: Spread
    base_calls: float  # calls of this function per benchmark call (median)
    candidate_calls: float
    beyond_spread: bool
    package: str | None = None

    def __post_init__(self) -> None:
        if self.status not in PROFILE_STATUSES:
            raise InvalidInputError(f"function change status {self.status!r} is unknown")

    @property
    def delta_own_s(self) -> float:
        return self.candidate_own.median - self.base_own.median

    @property
    def delta_cum_s(self) -> float:
        return self.candidate_cum.median - self.base_cum.median


@dataclass(frozen=True, slots=True)
class AllocationChange:
    """One allocation line's growth per benchmark call, base against candidate."""

    site: str
    status: str  # one of PROFILE_STATUSES
    base_bytes: Spread
    candidate_bytes: Spread
    base_count: float
    candidate_count: float
    beyond_spread: bool

    @property
    def delta_bytes(self) -> float:
        return self.candidate_bytes.median - self.base_bytes.median


@dataclass(frozen=True, slots=True)
class FlameNode:
    """One call path of the differential flame chart (seconds per benchmark call)."""

    path: str  # caller keys joined by " > ", root first: unique id
    parent: str  # "" for a root
    key: str
    base_s: float
    candidate_s: float


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    """Where one benchmark's time and memory went, base against candidate.

    ``functions`` are ranked: changes beyond the spread first, largest increase of own
    time per call first; then the rest by size. ``allocations`` likewise by growth.
    ``artifacts`` are ``(label, path)`` of the files behind it (.prof, memory plot).
    """

    benchmark: str
    repeats: int
    base_total_s: Spread  # profiled time per benchmark call
    candidate_total_s: Spread
    functions: tuple[FunctionChange, ...]
    allocations: tuple[AllocationChange, ...] = ()
    base_peak_bytes: float = 0.0  # tracemalloc peak over the traced calls, median
    candidate_peak_bytes: float = 0.0
    flame: tuple[FlameNode, ...] = ()
    folded: bool = True
    artifacts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("functions", "allocations", "flame", "artifacts"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True, slots=True)
class ProfileComparison:
    """Profiles of some benchmarks at two commits, and their diffs: ``profile``'s result."""

    profile_id: str
    base_sha: str
    candidate_sha: str
    created_at: str
    diffs: tuple[ProfileDiff, ...]
    raw_dir: str | None = None
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"profile schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        object.__setattr__(self, "diffs", tuple(self.diffs))
