"""Frozen data classes passed between the layers.

Everything that crosses a package boundary (measure → store → analysis → report) is one
of these: immutable, validated on construction, with units in the field names. Raw dicts
from JSON files never travel further than the module that parsed them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import operator
import sys
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, overload

from perf_pipeline.errors import InvalidInputError

__all__ = [
    "AB_CORRECTION_NOTE",
    "METRICS",
    "NOISE_SIDES",
    "PROFILE_STATUSES",
    "SCHEMA_VERSION",
    "TIME_METRIC",
    "AllocationChange",
    "AllocationSite",
    "Baseline",
    "BaselineEntry",
    "BenchmarkComparison",
    "BenchmarkNoise",
    "BenchmarkResult",
    "ChangePoint",
    "CommitAnalysis",
    "CommitInfo",
    "Comparison",
    "Confirmation",
    "Drift",
    "Environment",
    "FlameNode",
    "FunctionChange",
    "FunctionProfile",
    "LevelShift",
    "MemoryProfile",
    "MetricSeries",
    "MetricSpec",
    "NoiseCorpus",
    "NoisePair",
    "NoiseProfile",
    "ProfileComparison",
    "ProfileDiff",
    "ReportData",
    "RunInfo",
    "RunStatus",
    "Samples",
    "Spread",
    "SuiteComparison",
    "SuiteRun",
    "TimeProfile",
    "Trend",
    "Verdict",
    "hardware_machine_id",
    "is_noise_order",
    "noise_machine_id",
]

#: Version of every JSON file perf_pipeline writes (raw run files, baseline).
SCHEMA_VERSION = 1

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
        MetricSpec("time_s", "s", "time per round", 1.2),
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


class Verdict(str, Enum):
    """The four honest answers; a verdict compares equal to its lowercase word."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


class RunStatus(str, Enum):
    """A run either produced complete results or it failed; there is no partial."""

    SUCCESS = "success"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class Samples(Sequence[float]):
    """Read-only float64 samples: 8 bytes a sample instead of a float object and a pointer.

    A benchmark of ten million rounds is common (pytest-benchmark's defaults on a
    sub-microsecond function); as a tuple of floats it costs 320 MB, 1.5x the JSON file
    it came from, and it lived through the whole ingest. Here the values sit in one
    contiguous float64 buffer (an ``array('d')`` or a numpy array) behind a read-only
    ``memoryview``: indexing and iteration give floats, ``np.asarray`` is a zero-copy
    read-only view, and sorting (``sorted_copy``) happens in numpy, never in a list.

    Samples equal other Samples, and tuples, of the same values (samples were tuples
    before; code and tests that compare with one keep working); like a tuple, never a
    list. The hash is a tuple's of the same values, so equal objects hash alike.
    """

    __slots__ = ("_hash", "_median", "_view")
    _view: memoryview
    _hash: int | None
    _median: float | None

    def __init__(self, values: Iterable[float] = ()) -> None:
        """A copy of ``values``: any iterable of numbers, or a float64 buffer (copied
        at C speed, e.g. another ``Samples``' or a numpy array's)."""
        self._hash = self._median = None
        if isinstance(values, Samples):
            self._view = values._view
            return
        data = array("d")
        view = _float64_view(values)
        if view is not None:
            data.frombytes(view.cast("B"))
        else:
            data.extend(values)
        self._view = memoryview(data).toreadonly()

    @classmethod
    def adopt(cls, data: Any) -> Samples:
        """Samples over ``data`` (an ``array('d')`` or a 1-D float64 numpy array) without
        a copy. The caller hands it over: nothing may change it afterwards."""
        view = _float64_view(data)
        if view is None:
            raise TypeError(f"Samples.adopt needs a contiguous float64 buffer, not "
                            f"{type(data).__name__}")
        out = cls.__new__(cls)
        out._view = view.toreadonly()
        out._hash = out._median = None
        return out

    @classmethod
    def concat(cls, parts: Iterable[Samples]) -> Samples:
        """The samples of ``parts`` one after the other (pooling runs or processes)."""
        data = array("d")
        for part in parts:
            data.frombytes(Samples(part)._view.cast("B"))
        return cls.adopt(data)

    @classmethod
    def from_bytes(cls, data: bytes, little_endian: bool = True) -> Samples:
        """Samples from packed float64 bytes (the store's BLOBs are little-endian)."""
        values = array("d")
        values.frombytes(data)
        if little_endian != (sys.byteorder == "little"):  # pragma: no cover - big-endian
            values.byteswap()
        return cls.adopt(values)

    def median(self) -> float:
        """The median (NaN when empty), kept: a replay asks each benchmark's median
        millions of times, and the samples never change."""
        if self._median is None:
            s = self.sorted_copy()
            mid = len(s) // 2
            self._median = (math.nan if not s else s[mid] if len(s) % 2
                            else (s[mid - 1] + s[mid]) / 2)
        return self._median

    def sorted_copy(self) -> Samples:
        """The samples in ascending order, as new compact Samples (numpy's sort: no
        float object per sample, as ``sorted()`` of ten million would make)."""
        if len(self._view) < 64:
            return Samples.adopt(array("d", sorted(self._view)))
        import numpy as np  # already loaded by every command that sorts big samples

        return Samples.adopt(np.sort(np.frombuffer(self._view, dtype=np.float64)))

    @property
    def buffer(self) -> memoryview:
        """The values as a read-only float64 ``memoryview`` in the host's byte order."""
        return self._view

    def tolist(self) -> list[float]:
        return self._view.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """``np.asarray(samples)``: a read-only view, no copy (``copy=True``: a copy)."""
        import numpy as np

        out = np.frombuffer(self._view, dtype=np.float64)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            return out.astype(dtype)
        return out.copy() if copy else out

    def __len__(self) -> int:
        return len(self._view)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> Samples: ...

    def __getitem__(self, index: int | slice) -> float | Samples:
        if isinstance(index, slice):
            view = self._view[index]
            if not view.c_contiguous:  # a step: copied, so the buffer stays contiguous
                return Samples(view.tolist())
            out = Samples.__new__(Samples)
            out._view = view
            out._hash = out._median = None
            return out
        return self._view[index]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[float]:
        return iter(self._view)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Samples):
            return self._view == other._view
        if isinstance(other, tuple):
            return len(other) == len(self._view) and all(map(operator.eq, self._view, other))
        return NotImplemented

    def __add__(self, other: object) -> Samples:
        """Concatenation, as of tuples: ``Samples + Samples`` or ``Samples + tuple``."""
        if not isinstance(other, (Samples, tuple)):
            return NotImplemented
        return Samples.concat((self, Samples(other)))

    def __radd__(self, other: object) -> Samples:
        if not isinstance(other, tuple):
            return NotImplemented
        return Samples.concat((Samples(other), self))

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._view.tolist()))
        return self._hash

    def __repr__(self) -> str:
        n = len(self._view)
        head = ", ".join(repr(v) for v in self._view[:5].tolist())
        return f"Samples([{head}{', ...' if n > 5 else ''}], n={n})"

    def __reduce__(self) -> tuple[Any, ...]:  # pickling (Dagster's IO managers)
        return (Samples.from_bytes, (self._view.tobytes(), sys.byteorder == "little"))


def _float64_view(values: object) -> memoryview | None:
    """A 1-D contiguous float64 view of ``values`` if it exposes one, else None."""
    if isinstance(values, (array, memoryview)) or hasattr(values, "__array_interface__"):
        try:
            view = memoryview(values)  # type: ignore[arg-type]
        except TypeError:
            return None
        if view.format == "d" and view.ndim == 1 and view.c_contiguous:
            return view
    return None


def _check_finite(values: Sequence[float], what: str) -> None:
    if all(map(math.isfinite, values)):  # C speed for the usual case (10M samples)
        return
    for v in values:
        if not math.isfinite(v):
            raise InvalidInputError(f"{what}: sample {v!r} is not a finite number")


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


def hardware_machine_id(*, os: str, machine: str, cpu_model: str, cpu_count: int) -> str:
    """The default machine id: a short hash of the hardware part of an environment.

    The CPU model, its count, the OS family and the architecture: what makes timings of
    two boxes incomparable. Not the host name (containers and CI runners get a new one per
    job) and not the OS release (a kernel update does not make a new machine). Only the
    first word of ``os`` counts ("Linux 6.1.0" -> "Linux"). The formula is frozen: stored
    histories (store migration 4) hold ids made by it.
    """
    family = (os.split() or [""])[0]
    blob = json.dumps([family, machine, cpu_model, int(cpu_count)])
    return "m-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


def noise_machine_id(machine: Iterable[tuple[str, str]]) -> str | None:
    """The hardware id (``hardware_machine_id``) of a noise corpus's or profile's
    ``machine`` (``Environment.noise_machine``); None when it lacks a fact."""
    facts = dict(machine)
    try:
        return hardware_machine_id(os=facts["os"], machine=facts["arch"],
                                   cpu_model=facts["cpu_model"],
                                   cpu_count=int(facts["cpu_count"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Environment:
    """Where a run happened. Two runs are comparable when their fingerprints match."""

    python_version: str
    python_implementation: str
    os: str
    machine: str
    cpu_model: str
    cpu_count: int
    packages: tuple[tuple[str, str], ...] = ()
    lock_hash: str | None = None
    thread_env: tuple[tuple[str, str], ...] = ()

    @property
    def machine_id(self) -> str:
        """The hardware's id (``hardware_machine_id``): runs of one machine share it."""
        return hardware_machine_id(os=self.os, machine=self.machine,
                                   cpu_model=self.cpu_model, cpu_count=self.cpu_count)

    @property
    def noise_machine(self) -> tuple[tuple[str, str], ...]:
        """The ``machine`` a noise corpus and profile record (``noise_machine_id`` reads
        the hardware id back from it)."""
        return (("arch", self.machine), ("cpu_count", str(self.cpu_count)),
                ("cpu_model", self.cpu_model), ("os", self.os),
                ("python", f"{self.python_implementation} {self.python_version}".strip()))

    @property
    def fingerprint(self) -> str:
        """A short stable hash of everything that can move a measurement."""
        blob = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["packages"] = dict(self.packages)
        data["thread_env"] = dict(self.thread_env)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Environment:
        try:
            return cls(
                python_version=str(data["python_version"]),
                python_implementation=str(data.get("python_implementation", "")),
                os=str(data.get("os", "")),
                machine=str(data.get("machine", "")),
                cpu_model=str(data.get("cpu_model", "")),
                cpu_count=int(data.get("cpu_count", 0) or 0),  # type: ignore[arg-type]
                packages=tuple(sorted(dict(data.get("packages") or {}).items())),  # type: ignore[arg-type]
                lock_hash=(str(data["lock_hash"]) if data.get("lock_hash") else None),
                thread_env=tuple(sorted(dict(data.get("thread_env") or {}).items())),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise InvalidInputError(f"environment record is malformed: {exc}") from exc

    def differences(self, other: Environment) -> tuple[tuple[str, str, str], ...]:
        """``(what, self's value, other's value)`` for everything that differs."""
        out: list[tuple[str, str, str]] = []
        for name in ("python_version", "python_implementation", "os", "machine",
                     "cpu_model", "cpu_count", "lock_hash"):
            a, b = getattr(self, name), getattr(other, name)
            if a != b:
                out.append((name, str(a), str(b)))
        for label, mine, theirs in (("package", dict(self.packages), dict(other.packages)),
                                    ("env", dict(self.thread_env), dict(other.thread_env))):
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key) != theirs.get(key):
                    out.append((f"{label} {key}", mine.get(key, "-"), theirs.get(key, "-")))
        return tuple(out)


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
        _check_finite(self.samples_s, f"benchmark {self.name!r}")
        _check_finite(tuple(v for _, v in self.summary), f"benchmark {self.name!r} summary")
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
        if self.status is RunStatus.FAILED and self.benchmarks:
            raise InvalidInputError(
                f"run {self.run_id}: a failed run must not carry partial results")
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
class Comparison:
    """The verdict on one benchmark and metric, with the numbers behind it.

    ``ratio`` is current / baseline (a robust estimate; > 1 means slower or bigger);
    ``ci_low``/``ci_high`` its confidence interval at 1 - alpha; ``p_value`` that of the
    test in the direction of the observed change. ``samples_needed`` is set when the
    verdict is inconclusive and more data would decide.
    """

    verdict: Verdict
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    threshold: float
    alpha: float
    n_baseline: int
    n_current: int
    method: str
    reason: str = ""
    samples_needed: int | None = None
    adjusted_p_value: float | None = None


@dataclass(frozen=True, slots=True)
class BenchmarkComparison:
    """A ``Comparison`` labelled with the benchmark and metric it is about."""

    name: str
    metric: str
    comparison: Comparison


@dataclass(frozen=True, slots=True)
class SuiteComparison:
    """All comparisons of one run against its baseline, corrected across the suite."""

    results: tuple[BenchmarkComparison, ...]
    correction: str
    alpha: float
    new: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    def with_verdict(self, verdict: Verdict) -> tuple[BenchmarkComparison, ...]:
        return tuple(r for r in self.results if r.comparison.verdict == verdict)

    @property
    def regressions(self) -> tuple[BenchmarkComparison, ...]:
        return self.with_verdict(Verdict.REGRESSION)

    @property
    def improvements(self) -> tuple[BenchmarkComparison, ...]:
        return self.with_verdict(Verdict.IMPROVEMENT)

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    """What the comparison needs about one benchmark and metric of the baseline.

    ``run_values`` holds one summary per baseline run (the run's median for time), oldest
    first: the run-to-run spread that within-run samples cannot show. ``runs`` says which
    of the baseline's ``source_run_ids`` each value came from, so a benchmark skipped in
    one run is lined up with the right runs' machine factors (empty, as in files written
    before it: the newest ``len(run_values)`` runs). ``samples`` are the raw samples of
    the most recent baseline run, for within-run tests and plots.
    """

    name: str
    metric: str
    run_values: tuple[float, ...]
    samples: tuple[float, ...] = ()
    runs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_finite(self.run_values, f"baseline {self.name!r} {self.metric}")
        _check_finite(self.samples, f"baseline {self.name!r} {self.metric}")
        if self.runs and (len(self.runs) != len(self.run_values) or self.runs[0] < 0
                          or any(b <= a for a, b in itertools.pairwise(self.runs))):
            raise InvalidInputError(
                f"baseline {self.name!r} {self.metric}: `runs` must be increasing run "
                f"indexes, one per value ({len(self.run_values)}), not {self.runs!r}")


#: rolling: pooled from the last N main-branch runs; pinned: a named run; ab: the base
#: side of an interleaved A/B run (reports only, never the stored baseline file).
BASELINE_POLICIES = ("rolling", "pinned", "ab")


@dataclass(frozen=True, slots=True)
class Baseline:
    """The reference a commit is judged against, as stored in performance_baseline.json."""

    policy: str  # one of BASELINE_POLICIES
    created_at: str
    source_run_ids: tuple[str, ...]
    source_commits: tuple[str, ...]
    entries: tuple[BaselineEntry, ...]
    environment: Environment | None = None
    schema_version: int = SCHEMA_VERSION
    previous: tuple[str, ...] = field(default=())  # created_at of earlier baselines
    #: The machine its runs were measured on; None for baselines of unknown or mixed
    #: machines (older files). A run of another machine is never judged against it.
    machine_id: str | None = None

    def __post_init__(self) -> None:
        if self.policy not in BASELINE_POLICIES:
            raise InvalidInputError(
                f"baseline policy {self.policy!r} is not one of {BASELINE_POLICIES}")
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"baseline schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        for e in self.entries:
            if e.runs and e.runs[-1] >= len(self.source_run_ids):
                raise InvalidInputError(
                    f"baseline {e.name!r} {e.metric}: run index {e.runs[-1]} is beyond its "
                    f"{len(self.source_run_ids)} source runs")

    def entry(self, name: str, metric: str) -> BaselineEntry | None:
        for e in self.entries:
            if e.name == name and e.metric == metric:
                return e
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

    @property
    def label(self) -> str:
        """Short human label: the short SHA, or the start time for runs with no commit."""
        return self.commit.short_sha if self.commit else self.started_at[:19]


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
    commits: int  # how many runs the span covers


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a report shows, gathered by the caller; renderers only format it."""

    title: str
    generated_at: str
    current: SuiteRun | None = None
    baseline: Baseline | None = None
    comparison: SuiteComparison | None = None
    runs: tuple[RunInfo, ...] = ()  # oldest first
    series: tuple[MetricSeries, ...] = ()
    environment_differences: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()
    report_url: str | None = None
    change_points: tuple[ChangePoint, ...] = ()
    #: The two-stage gate's second stage; when set, ``comparison`` is its final verdict
    #: and the report shows the screen and the confirmation as sections of their own.
    confirmation: Confirmation | None = None
    drifts: tuple[Drift, ...] = ()
    #: Profile diffs of the regressed benchmarks ("where the time went"), if profiled.
    profiles: ProfileComparison | None = None
    #: Results of culprit searches (``pipeline/culprit_result.py``), oldest first.
    culprits: tuple[Culprit, ...] = ()
    #: What is new in the history and worth a person's attention (change points,
    #: drifts, culprits): shown first in the report and sent to the webhook.
    alerts: tuple[Alert, ...] = ()
    #: The commit's stress figures judged against the previous stress run, if any, and
    #: a label of that run (None: no earlier stress run).
    stress: tuple[StressComparison, ...] = ()
    stress_baseline: str | None = None
    stress_note: str | None = None  # e.g. the stress run failed; runs passed over
    #: The machine whose history this report shows (series, runs, change points), and
    #: the reports of every machine in the history as (machine id, relative link).
    machine_id: str | None = None
    machine_links: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CommitAnalysis:
    """One run judged against its baseline: what the regression gate and reports read.

    ``comparison`` is ``None`` when there was nothing to compare with (no baseline yet);
    ``notes`` then say so, so a missing verdict is never mistaken for a clean one.
    """

    run_id: str
    sha: str | None
    created_at: str
    threshold: float
    alpha: float
    comparison: SuiteComparison | None = None
    baseline_policy: str | None = None
    baseline_run_ids: tuple[str, ...] = ()
    baseline_commits: tuple[str, ...] = ()
    environment_differences: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"analysis schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")

    @property
    def has_regression(self) -> bool:
        return self.comparison is not None and self.comparison.has_regression


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
        _check_finite((self.own_s, self.cum_s), f"profile of {self.key!r}")
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


#: The two worktrees of a noise corpus (same commit, separate checkouts).
NOISE_SIDES = ("a", "b")


def is_noise_order(order: object) -> bool:
    """Whether ``order`` (as read from a file: anything) lists both sides once each."""
    return (isinstance(order, (list, tuple)) and all(isinstance(o, str) for o in order)
            and sorted(order) == list(NOISE_SIDES))


def _tuple_of_samples(data: object, what: str) -> tuple[tuple[float, ...], ...]:
    """``data`` as a tuple of sample tuples, every sample a positive finite float."""
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InvalidInputError(f"{what} is not a sequence of sample lists")
    out = []
    for i, samples in enumerate(data):  # type: ignore[union-attr]
        if isinstance(samples, (str, bytes)) or not hasattr(samples, "__iter__"):
            raise InvalidInputError(f"{what}[{i}] is not a list of samples")
        values = []
        for v in samples:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidInputError(f"{what}[{i}]: sample {v!r} is not a number")
            try:
                value = float(v)
            except OverflowError:  # an integer beyond float range, e.g. from a corrupt file
                value = math.inf
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(
                    f"{what}[{i}]: sample {v!r} is not a positive finite time")
            values.append(value)
        if not values:
            raise InvalidInputError(f"{what}[{i}] has no samples")
        out.append(tuple(values))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class NoisePair:
    """One interleaved pair of a noise corpus: one process in worktree a, one in b.

    ``a[i]`` and ``b[i]`` are the samples (seconds per call) of the corpus's
    ``benchmarks[i]`` in that process. The process, not the sample, is the unit of
    noise, so the samples of one process are kept together and never pooled across.
    """

    order: tuple[str, str]
    started_at: str  # ISO-8601, UTC
    a: tuple[tuple[float, ...], ...]
    b: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if not is_noise_order(self.order):
            raise InvalidInputError(f"noise pair order {self.order!r} is not ('a', 'b') "
                                    "or ('b', 'a')")
        object.__setattr__(self, "order", tuple(self.order))
        if not isinstance(self.started_at, str) or not self.started_at:
            raise InvalidInputError("noise pair started_at is empty")
        a = _tuple_of_samples(self.a, f"noise pair {self.started_at} side a")
        b = _tuple_of_samples(self.b, f"noise pair {self.started_at} side b")
        if len(a) != len(b):
            raise InvalidInputError(f"noise pair {self.started_at}: side a has {len(a)} "
                                    f"benchmarks, side b {len(b)}")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def side(self, name: str) -> tuple[tuple[float, ...], ...]:
        """The samples of side ``"a"`` or ``"b"``."""
        if name not in NOISE_SIDES:
            raise InvalidInputError(f"noise pair side must be 'a' or 'b', not {name!r}")
        return self.a if name == "a" else self.b


@dataclass(frozen=True, slots=True)
class NoiseCorpus:
    """Recorded real noise: interleaved pairs of processes of one commit on one machine.

    Both worktrees hold the same commit, so every difference between and within pairs
    is noise: the spread of single processes is what a stored-baseline comparison
    faces, the spread of a pair's ratio is what an interleaved A/B faces. ``machine``
    holds the hardware part of the environment fingerprint as sorted (key, value) pairs.
    """

    suite: str
    commit: str
    recorded_at: str  # ISO-8601, UTC
    machine: tuple[tuple[str, str], ...]
    note: str
    benchmarks: tuple[str, ...]
    pairs: tuple[NoisePair, ...]

    def __post_init__(self) -> None:
        if not self.suite:
            raise InvalidInputError("noise corpus suite is empty")
        if len(self.commit) not in (40, 64) or not all(
                c in "0123456789abcdef" for c in self.commit):
            raise InvalidInputError(f"noise corpus commit {self.commit!r} is not a full "
                                    "lowercase hex SHA")
        if not self.recorded_at:
            raise InvalidInputError("noise corpus recorded_at is empty")
        machine = tuple(sorted((str(k), str(v)) for k, v in dict(self.machine).items()))
        object.__setattr__(self, "machine", machine)
        benchmarks = tuple(self.benchmarks)
        if not benchmarks or not all(isinstance(n, str) and n for n in benchmarks):
            raise InvalidInputError("noise corpus needs at least one benchmark name, "
                                    "all non-empty strings")
        if list(benchmarks) != sorted(set(benchmarks)):
            raise InvalidInputError("noise corpus benchmark names must be unique and sorted")
        object.__setattr__(self, "benchmarks", benchmarks)
        pairs = tuple(self.pairs)
        if not pairs:
            raise InvalidInputError("noise corpus has no pairs")
        for i, pair in enumerate(pairs):
            if not isinstance(pair, NoisePair):
                raise InvalidInputError(f"noise corpus pair {i} is not a NoisePair")
            if len(pair.a) != len(benchmarks):
                raise InvalidInputError(
                    f"noise corpus pair {i} has samples of {len(pair.a)} benchmarks, "
                    f"the corpus names {len(benchmarks)}")
        object.__setattr__(self, "pairs", pairs)


def _check_spread(value: float, what: str) -> None:
    if not (math.isnan(value) or (math.isfinite(value) and value >= 0)):
        raise InvalidInputError(f"{what} = {value!r} is not a spread (>= 0, or NaN when "
                                "the data cannot show it)")


@dataclass(frozen=True, slots=True)
class BenchmarkNoise:
    """How noisy one benchmark is on one machine, as standard deviations of natural logs.

    A standard deviation of logs is close to the coefficient of variation for small
    spreads (0.05 ~ 5 %) and stays meaningful for large ones. ``unpaired_log_sd`` is the
    spread of single processes' medians (what a stored-baseline comparison faces);
    ``paired_log_sd`` that of a pair's log-ratio of medians; ``paired_residual_log_sd``
    the same after each pair's suite-wide factor is removed (what an interleaved A/B
    with suite-factor removal faces). NaN where the corpus is too small to show it.
    """

    name: str
    median_s: float
    unpaired_log_sd: float
    paired_log_sd: float
    paired_residual_log_sd: float

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("benchmark noise: name is empty")
        if not (math.isfinite(self.median_s) and self.median_s > 0):
            raise InvalidInputError(f"benchmark noise {self.name!r}: median_s "
                                    f"{self.median_s!r} is not a positive time")
        for field_name in ("unpaired_log_sd", "paired_log_sd", "paired_residual_log_sd"):
            _check_spread(getattr(self, field_name), f"{self.name!r} {field_name}")


@dataclass(frozen=True, slots=True)
class NoiseProfile:
    """The noise of one machine for one suite, computed from a ``NoiseCorpus``.

    ``suite_factor_log_sd`` is the spread over pairs of the suite-wide factor (the
    median over benchmarks of a pair's log-ratios): how much a whole process moves
    every benchmark together. ``notes`` say why a figure is NaN.
    """

    suite: str
    commit: str
    machine: tuple[tuple[str, str], ...]
    recorded_at: str
    pairs: int
    suite_factor_log_sd: float
    benchmarks: tuple[BenchmarkNoise, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.pairs, bool) or not isinstance(self.pairs, int) or self.pairs < 1:
            raise InvalidInputError(f"noise profile pairs {self.pairs!r} is not >= 1")
        _check_spread(self.suite_factor_log_sd, "noise profile suite_factor_log_sd")
        object.__setattr__(self, "benchmarks", tuple(self.benchmarks))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "machine", tuple(self.machine))

    def benchmark(self, name: str) -> BenchmarkNoise | None:
        for b in self.benchmarks:
            if b.name == name:
                return b
        return None


#: How a confirmation went. ``confirmed``: the interleaved A/B ran and decided what it
#: could; ``nothing_flagged``: the screen flagged nothing, no A/B was needed;
#: ``not_possible``: the screen flagged something but no A/B could run (no base commit,
#: or it is the candidate), so the stored-baseline comparison at the gate's level decides;
#: ``off``: one-stage gate (``confirm = "off"``), the stored-baseline comparison decides.
CONFIRMATION_STATUSES = ("confirmed", "nothing_flagged", "not_possible", "off")
#: Appended to a final comparison's ``correction`` when an A/B decided some of its rows
#: (reports then say what those rows' ratios and intervals are).
AB_CORRECTION_NOTE = "flagged benchmarks confirmed by a sequential interleaved A/B"


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Both stages of the gate for one commit: the screen, the A/B, the final verdict.

    ``screen`` is the stored-baseline comparison at the screen's level (it flags
    ``flagged``); ``ab`` the sequential interleaved A/B of ``base_sha`` against ``sha``
    over ``flagged`` and ``suspects`` (with ``controls`` measured alongside only to
    remove each round's suite-wide factor); ``final`` the verdict that decides the exit
    code and the gate: the A/B's result for every benchmark it decided, the
    stored-baseline comparison at the gate's own level for everything the A/B did not re-measure.
    """

    sha: str | None  # the candidate; None for a run of plain files with no commit
    run_id: str  # the screened run
    created_at: str
    status: str  # one of CONFIRMATION_STATUSES
    screen_alpha: float
    screen: SuiteComparison | None
    final: SuiteComparison | None
    base_sha: str | None = None
    flagged: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    ab: SuiteComparison | None = None
    #: Unflagged benchmarks the A/B decided too (the screen could not clear them).
    suspects: tuple[str, ...] = ()
    rounds_used: int = 0
    max_rounds: int = 0
    stopped: str | None = None  # why the A/B ended: decided, max_rounds, budget, ...
    decided_at: tuple[tuple[str, int], ...] = ()  # (benchmark, rounds when decided)
    raw_dir: str | None = None
    notes: tuple[str, ...] = ()
    whole_suite: bool = False  # a flagged suite-wide shift: every benchmark was measured
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in CONFIRMATION_STATUSES:
            raise InvalidInputError(
                f"confirmation status {self.status!r} is not one of {CONFIRMATION_STATUSES}")
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"confirmation schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        if self.rounds_used < 0 or self.max_rounds < 0:
            raise InvalidInputError("confirmation round counts must be >= 0")

    @property
    def regressions(self) -> tuple[BenchmarkComparison, ...]:
        """The confirmed regressions: what fails the gate."""
        return self.final.regressions if self.final is not None else ()

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)

    @property
    def undecided(self) -> tuple[str, ...]:
        """Targets the A/B ran for but could not decide (inconclusive in ``final``).
        Without an A/B (not possible, nothing flagged, off) the stored comparison
        decided them: nothing is undecided."""
        if self.status != "confirmed":
            return ()
        decided = dict(self.decided_at)
        inconclusive = {r.name for r in (self.final.results if self.final else ())
                        if r.metric == TIME_METRIC
                        and r.comparison.verdict is Verdict.INCONCLUSIVE}
        return tuple(n for n in self.targets if n not in decided and n in inconclusive)

    @property
    def targets(self) -> tuple[str, ...]:
        """What the A/B decided: the flagged benchmarks, then the suspects."""
        return (*self.flagged, *self.suspects)


#: Where a culprit search ended: confirmed by the A/B against the parent, the A/B did
#: not confirm it, no A/B ran (``confirm`` off), a skipped (unmeasurable) commit left
#: more than one suspect, or the search could not go on (its notes say why).
CULPRIT_STATUSES = ("confirmed", "not_confirmed", "unconfirmed", "ambiguous", "abandoned")


@dataclass(frozen=True, slots=True)
class BisectStep:
    """One step of a culprit search over the commits from ``good`` to ``bad``.

    ``probe``: the commit to measure next (None once the search is over); ``culprit``:
    the first commit at the new level, once only it is left; ``suspects``: the commits
    that may still carry the change (oldest first); ``verdicts``: what each measured
    commit was classified as, ``(sha, "good" | "bad")``; ``outliers``: the measured
    commits whose verdict the step overrules (a bad one before ``good``, a good one
    after ``bad``): each a noisy measurement by the count of the others.
    """

    good: str
    bad: str
    probe: str | None
    culprit: str | None
    suspects: tuple[str, ...]
    verdicts: tuple[tuple[str, str], ...] = ()
    outliers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.probe is not None and self.culprit is not None:
            raise InvalidInputError("a bisect step has a probe or a culprit, not both")

    @property
    def done(self) -> bool:
        return self.probe is None


@dataclass(frozen=True, slots=True)
class Culprit:
    """The commit a culprit search named for one benchmark, and how sure we are.

    ``step_ratio``: new level / old level from the measurements that framed the search;
    ``confirmed_ratio`` (with its interval): what the interleaved A/B of ``sha`` against
    ``parent_sha`` measured, when one ran. ``probes``: commits the search measured.
    """

    benchmark: str
    good_sha: str
    bad_sha: str
    status: str
    created_at: str
    sha: str | None = None
    parent_sha: str | None = None
    subject: str = ""
    author: str = ""
    metric: str = TIME_METRIC
    step_ratio: float = 1.0
    confirmed_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str | None = None
    rounds_used: int = 0
    probes: tuple[str, ...] = ()
    suspects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in CULPRIT_STATUSES:
            raise InvalidInputError(
                f"culprit status {self.status!r} is not one of {CULPRIT_STATUSES}")
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"culprit schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        if self.status not in ("ambiguous", "abandoned") and self.sha is None:
            raise InvalidInputError(f"a {self.status} culprit needs its sha")
        for name in ("probes", "suspects", "notes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("step_ratio", "confirmed_ratio", "ci_low", "ci_high"):
            value = getattr(self, name)
            if value is not None:  # numpy scalars would not serialise everywhere
                object.__setattr__(self, name, float(value))


#: What an alert is about.
ALERT_KINDS = ("change_point", "drift", "culprit")


@dataclass(frozen=True, slots=True)
class Alert:
    """A change point, a drift or a culprit worth telling someone about.

    ``sha``: the commit it points at (a change point's first commit at the new level, a
    drift's last commit, the culprit); ``since``: a drift's first commit, ``span``: the
    commits it covers, oldest first. ``key`` identifies it across reports, so the
    webhook announces each one once; a drift's start and end both move while it goes on
    (its window slides), so a drift counts as sent when one of the commits it covers
    keyed a drift of the same benchmark before (``already_sent``).
    """

    kind: str
    name: str
    metric: str
    ratio: float
    sha: str | None = None
    subject: str = ""
    detail: str = ""
    since: str | None = None
    span: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise InvalidInputError(f"alert kind {self.kind!r} is not one of {ALERT_KINDS}")
        object.__setattr__(self, "span", tuple(self.span))

    @property
    def key(self) -> str:
        at = self.since if self.kind == "drift" and self.since else self.sha
        return f"{self.kind}:{self.metric}:{at or '-'}:{self.name}"

    @property
    def sent_keys(self) -> tuple[str, ...]:
        """What to record once it is sent: its key, and for a drift one key per commit it
        covers, with its direction, so a later drift of this benchmark the same way that
        overlaps it is the same one (a drift back the other way is news)."""
        if self.kind != "drift":
            return (self.key,)
        sign = "+" if self.ratio >= 1.0 else "-"
        return (self.key, *(f"drift{sign}:{self.metric}:{sha}:{self.name}"
                            for sha in self.span))

    def already_sent(self, sent: Collection[str]) -> bool:
        """Whether ``sent`` (keys recorded) holds this alert: its key, or for a drift a
        same-way drift of this benchmark at any commit it covers (a start that moved, an
        overlapping drift announced before), or a key of the older form that named a
        drift's end commit (before 2026-12-01; its direction was not recorded)."""
        if any(key in sent for key in self.sent_keys):
            return True
        return self.kind == "drift" and any(
            f"drift:{self.metric}:{sha}:{self.name}" in sent for sha in self.span)
@dataclass(frozen=True, slots=True)
class StressFigure:
    """One figure of one stress scenario of one run (``stress_results`` table).

    ``low``/``high`` bound an estimate that has an interval (a scaling exponent);
    ``histogram_json`` is the latency histogram behind a latency figure, kept whole so a
    later run can be tested against it bucket by bucket.
    """

    test: str
    scenario: str
    kind: str
    figure: str
    value: float | None
    low: float | None = None
    high: float | None = None
    count: int | None = None
    histogram_json: str | None = None

    def __post_init__(self) -> None:
        for name in ("test", "scenario", "kind", "figure"):
            if not getattr(self, name):
                raise InvalidInputError(f"stress figure: {name} is empty")
        for name in ("value", "low", "high"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InvalidInputError(
                    f"stress figure {self.test}/{self.scenario}/{self.figure}: {name} "
                    f"is not finite")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.test, self.scenario, self.figure)


@dataclass(frozen=True, slots=True)
class StressComparison:
    """A stress figure of the current run judged against the baseline run's."""

    test: str
    scenario: str
    figure: str
    verdict: Verdict
    baseline: float | None
    current: float | None
    rule: str
    detail: str
