"""The stress gate's second stage: how fresh pairs of runs judged each flagged figure.

``analysis/stress_confirm.py`` computes a ``StressConfirmation``; the pipeline keeps it
for a commit as a ``StressConfirmationRecord`` (``confirmation/<sha>.stress.json``,
read and written by ``store/stress_confirmation_file.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.model.comparison import Verdict
from perf_pipeline.model.stress import StressComparison

__all__ = ["FigureTally", "StressConfirmation", "StressConfirmationRecord"]

#: A stress figure's identity, as ``StressFigure.key``: (test, scenario, figure).
Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class FigureTally:
    """How the fresh pairs judged one flagged figure, and what that decided."""

    key: Key
    changes: tuple[float, ...]  # d of each pair that measured the figure
    margin: float | None  # the rule's margin on the scale of ``changes``
    p_value: float | None  # the signed-rank test of ``changes`` (None: no pair)
    worse_by_margin: int  # pairs with d >= margin
    verdict: Verdict  # REGRESSION (confirmed), UNCHANGED (cleared) or INCONCLUSIVE
    screen: StressComparison | None = None  # the screen's row of the figure

    @property
    def summary(self) -> str:
        word = {Verdict.REGRESSION: "confirmed", Verdict.UNCHANGED: "cleared"}.get(
            self.verdict, "undecided")
        n = len(self.changes)
        if not n:
            return f"{word}: no fresh pair measured it"
        return (f"{word}: worse in {sum(d > 0 for d in self.changes)} of {n} fresh "
                f"pair(s), by the rule's margin in {self.worse_by_margin}, "
                f"signed-rank p={self.p_value:.2g}")


@dataclass(frozen=True, slots=True)
class StressConfirmation:
    """The tally of every flagged figure, and the pairs that were measured."""

    tallies: tuple[FigureTally, ...]
    pairs_used: int
    pairs: int
    alpha: float
    level: float  # each figure's: alpha over the number of flagged figures

    def tally(self, key: Key) -> FigureTally | None:
        return next((t for t in self.tallies if t.key == key), None)

    @property
    def confirmed(self) -> tuple[FigureTally, ...]:
        return tuple(t for t in self.tallies if t.verdict is Verdict.REGRESSION)


@dataclass(frozen=True, slots=True)
class StressConfirmationRecord:
    """A commit's stress confirmation: which two runs it was about, and its tallies."""

    sha: str
    run_id: str  # the candidate's stress run the screen judged
    baseline_run_id: str
    baseline_sha: str
    confirmation: StressConfirmation
    created_at: str
    raw_dir: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One sentence for the reports: what was measured again, and what came of it."""
        c = self.confirmation
        done = (f"The screen's {len(c.tallies)} flagged figure(s) were measured again in "
                f"{c.pairs_used} fresh interleaved pair(s) of runs (at most {c.pairs}) of "
                f"{self.baseline_sha[:12]} and this commit: {len(c.confirmed)} confirmed.")
        return " ".join((done, *self.notes))
