"""The two-stage gate's result for one commit: screen, A/B, final verdict."""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.comparison import BenchmarkComparison, SuiteComparison, Verdict
from perf_pipeline.model.metrics import TIME_METRIC
from perf_pipeline.model.schema_version import SCHEMA_VERSION

__all__ = ["AB_CORRECTION_NOTE", "CONFIRMATION_STATUSES", "Confirmation"]


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
