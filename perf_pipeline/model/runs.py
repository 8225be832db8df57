"""Suite runs: the commit measured, each benchmark's results, and run listings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.environment import Environment
from perf_pipeline.model.finite import check_finite
from perf_pipeline.model.metrics import METRICS, TIME_METRIC
from perf_pipeline.model.samples import Samples

__all__ = ["BenchmarkResult", "CommitInfo", "RunInfo", "RunStatus", "SuiteRun"]


class RunStatus(str, Enum):
    """A run either produced complete results or it failed; there is no partial.

    ``NO_SUITE``: the commit has no suite to run (it predates the benchmarks, or the
    project folder): a fact about the commit, not a failure, so it is neither retried
    by a backfill nor counted among failed runs, and, having no results, it is no point
    of any history.
    """

    SUCCESS = "success"
    FAILED = "failed"
    NO_SUITE = "no_suite"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """The commit a run measured; ``sha`` is always the full 40-hex SHA when known."""

    sha: str
    branch: str | None = None
    message: str = ""
    author: str = ""
    committed_at: str | None = None  # ISO-8601
    dirty: bool = False
    #: How many commits the first-parent chain up to this one holds (``git rev-list
    #: --count --first-parent``), recorded when it is measured. Commits rewritten by a
    #: rebase share one committer second; this orders them parent before child in
    #: history, where the measuring time would put a later-measured parent after its
    #: child. None when unknown (plain pytest-benchmark files, runs stored before it).
    ancestry_ordinal: int | None = None

    def __post_init__(self) -> None:
        if not self.sha or not all(c in "0123456789abcdef" for c in self.sha.lower()):
            raise InvalidInputError(f"commit sha {self.sha!r} is not a hex SHA")
        ordinal = self.ancestry_ordinal
        if ordinal is not None and (isinstance(ordinal, bool) or not isinstance(ordinal, int)
                                    or not 0 <= ordinal < 2**63):
            raise InvalidInputError(
                f"commit {self.sha}: ancestry_ordinal {ordinal!r} is not a count >= 0")

    @property
    def short_sha(self) -> str:
        return self.sha[:10]

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """One benchmark of one run: every timed sample, plus resource figures.

    ``samples_s`` are per-round times (seconds per call, as pytest-benchmark records
    them with ``iterations`` calls per round). ``extra`` holds the other metrics of
    ``METRICS`` that were measured, as ``(metric name, value)`` pairs.
    """

    name: str
    #: Any sequence of numbers is accepted and kept as ``Samples`` (compact float64).
    samples_s: Samples
    group: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    iterations: int = 1
    extra: tuple[tuple[str, float], ...] = ()
    #: pytest-benchmark's summary statistics (``min_s``, ``max_s``, ``mean_s``,
    #: ``stddev_s``, ``median_s``, ``q1_s``, ``q3_s``, ``iqr_s``, ``rounds``) as the
    #: file reported them. For foreign files saved without raw samples this is all
    #: there is: ``samples_s`` is then empty and ``metric("time_s")`` uses ``median_s``.
    summary: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("benchmark name is empty")
        if type(self.samples_s) is not Samples:
            object.__setattr__(self, "samples_s", Samples(self.samples_s))
        check_finite(self.samples_s, f"benchmark {self.name!r}")
        check_finite(tuple(v for _, v in self.summary), f"benchmark {self.name!r} summary")
        for key, value in self.extra:
            if key not in METRICS:
                raise InvalidInputError(f"benchmark {self.name!r}: unknown metric {key!r}")
            if not math.isfinite(value):
                raise InvalidInputError(
                    f"benchmark {self.name!r}: metric {key} = {value!r} is not finite")

    @property
    def median_s(self) -> float:
        """Median of the samples; the file's own median when it kept no samples; else NaN."""
        if not self.samples_s:
            return dict(self.summary).get("median_s", math.nan)
        return self.samples_s.median()

    @property
    def zero_time_samples(self) -> int:
        """How many rounds read 0.0 s: faster than the timer can tell apart. Such times
        are whole ticks of the timer, and a ratio of them says more about the tick than
        about the code, so analysis does not judge this benchmark's time in this run
        (nor use it as a baseline). A file without samples says so by its fastest round
        (``min_s`` of 0), counted as one."""
        if self.samples_s:
            return self.samples_s.count_nonpositive()
        return int(dict(self.summary).get("min_s", 1.0) <= 0.0)

    def zero_time_note(self) -> str:
        """What ``zero_time_samples`` means for this benchmark, for a warning or a note."""
        n = len(self.samples_s)
        what = (f"{self.zero_time_samples} of {n} samples are 0.0 s" if n
                else "its fastest round (stats.min) is 0.0 s")
        return (f"{what}, below the timer's resolution: its time has no ratio to judge "
                "(give each round more work, e.g. a higher --benchmark-min-time)")

    def metric(self, name: str) -> float | None:
        """A scalar per metric: the median for time, the recorded value otherwise."""
        if name == TIME_METRIC:
            median = self.median_s
            return None if math.isnan(median) else median
        return dict(self.extra).get(name)


@dataclass(frozen=True, slots=True)
class SuiteRun:
    """One execution of one suite at one commit: complete results, or a failure."""

    run_id: str
    suite: str
    started_at: str  # ISO-8601, UTC
    status: RunStatus
    benchmarks: tuple[BenchmarkResult, ...] = ()
    commit: CommitInfo | None = None
    environment: Environment | None = None
    duration_s: float = 0.0
    error: str | None = None
    raw_path: str | None = None
    #: The machine that measured the run (``Settings.machine_id``); unset, the hardware
    #: id of ``environment``. Runs of different machines are never compared.
    machine_id: str | None = None

    def __post_init__(self) -> None:
        if not self.run_id:
            raise InvalidInputError("run_id is empty")
        if isinstance(self.duration_s, bool) or not isinstance(self.duration_s, (int, float)) \
                or not (math.isfinite(self.duration_s) and self.duration_s >= 0):
            # SQLite stored NaN as NULL and refused it as a database error (which stops a
            # whole ingest); PostgreSQL stored NaN: one rule for both, before either.
            raise InvalidInputError(f"run {self.run_id}: duration_s must be a finite number "
                                    f">= 0, not {self.duration_s!r}")
        if self.machine_id is None and self.environment is not None:
            object.__setattr__(self, "machine_id", self.environment.machine_id)
        if self.status is not RunStatus.SUCCESS and self.benchmarks:
            raise InvalidInputError(
                f"run {self.run_id}: a {self.status} run must not carry partial results")
        names = [b.name for b in self.benchmarks]
        if len(names) != len(set(names)):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise InvalidInputError(f"run {self.run_id}: duplicate benchmark names {dupes}")

    @property
    def sha(self) -> str | None:
        return self.commit.sha if self.commit else None

    def benchmark(self, name: str) -> BenchmarkResult | None:
        for b in self.benchmarks:
            if b.name == name:
                return b
        return None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run without its results: what history listings and report axes need."""

    run_id: str
    suite: str
    started_at: str
    status: RunStatus
    commit: CommitInfo | None = None
    fingerprint: str | None = None
    duration_s: float = 0.0
    error: str | None = None
    machine_id: str | None = None
    #: The hardware id of the run's environment (``Environment.known_hardware``); None
    #: when it names no hardware. Under a ``machine_id`` kept across a CPU swap, a
    #: history's runs differ here, and its statistics are taken per hardware.
    hardware: str | None = None

    @property
    def label(self) -> str:
        """Short human label: the short SHA, or the start time for runs with no commit."""
        return self.commit.short_sha if self.commit else self.started_at[:19]
