"""Verdicts, and the comparisons of a run against its baseline that carry them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.schema_version import SCHEMA_VERSION

__all__ = ["NOT_JUDGED_REASONS", "SUITE_SHIFT_NAME", "BenchmarkComparison", "CommitAnalysis",
           "Comparison", "SuiteComparison", "Verdict"]

#: Name of the pseudo-benchmark that carries the test of the suite-wide shift: a row of
#: the comparison, but no benchmark (no history, not counted among the benchmarks).
SUITE_SHIFT_NAME = "[suite-wide shift]"

#: Why a run was not judged (``CommitAnalysis.not_judged``): nothing earlier of its
#: machine; a baseline of another machine (a pinned one); a baseline all of other
#: hardware under the run's machine id (a replaced CPU: the first run on it, or a pin of
#: the old one). Scripts read these words (``--json``): add, never rename.
NOT_JUDGED_REASONS = ("no_baseline", "other_machine", "other_hardware")


class Verdict(str, Enum):
    """The four honest answers; a verdict compares equal to its lowercase word."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Comparison:
    """The verdict on one benchmark and metric, with the numbers behind it.

    ``ratio`` is current / baseline (a robust estimate; > 1 means slower or bigger);
    ``ci_low``/``ci_high`` its confidence interval at 1 - alpha; ``p_value`` that of the
    test in the direction of the observed change. ``samples_needed`` is set when the
    verdict is inconclusive and more data would decide. ``raw_ratio`` is set when
    ``ratio`` is relative to a suite-wide shift the comparison divided out: current /
    baseline with the shift left in, which reports show beside it (a "0.99×" over a
    plain ×1.5 slowdown misleads).
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
    raw_ratio: float | None = None


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
class CommitAnalysis:
    """One run judged against its baseline: what the regression gate and reports read.

    ``comparison`` is ``None`` when the run was not judged; ``notes`` then say why, so a
    missing verdict is never mistaken for a clean one, and ``not_judged`` says it in a
    word (``NOT_JUDGED_REASONS``; None in a file written before it was recorded).
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
    not_judged: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"analysis schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        if self.not_judged is not None and (self.not_judged not in NOT_JUDGED_REASONS
                                            or self.comparison is not None):
            raise InvalidInputError(
                f"analysis of run {self.run_id}: `not_judged` must be one of "
                f"{NOT_JUDGED_REASONS} and only without a comparison, got "
                f"{self.not_judged!r}")

    @property
    def has_regression(self) -> bool:
        return self.comparison is not None and self.comparison.has_regression
