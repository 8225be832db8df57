"""How ``backfill`` shows each commit as it is done, and the whole backfill at the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console

from perf_pipeline.cli.console import out, plain
from perf_pipeline.cli.present.comparison import comparison_json
from perf_pipeline.cli.present.json_doc import not_judged

if TYPE_CHECKING:
    from perf_pipeline.defs.backfill import BackfillOutcome
    from perf_pipeline.defs.launch import CommitMaterialization
    from perf_pipeline.model import CommitAnalysis, Confirmation

__all__ = ["CommitVerdict", "backfill_json", "commit_verdict", "failure_log_line",
           "print_backfill", "print_commit_verdict"]

_STYLE = {"regression": "red", "failed": "red", "no_regression": "green"}


@dataclass(frozen=True, slots=True)
class CommitVerdict:
    """One commit of a backfill: its verdict word and the line that explains it."""

    sha: str
    verdict: str  # regression, no_regression, no_baseline (not judged), no_suite, failed
    detail: str
    outcome: CommitMaterialization
    analysis: CommitAnalysis | None
    confirmation: Confirmation | None

    def to_json(self) -> dict[str, Any]:
        final = self.confirmation.final if self.confirmation is not None else None
        comparison = final if final is not None else (
            self.analysis.comparison if self.analysis is not None else None)
        return {"sha": self.sha, "verdict": self.verdict, "detail": self.detail,
                "success": self.outcome.success,
                "failed_checks": list(self.outcome.failed_checks),
                "warned_checks": list(self.outcome.warned_checks),
                "error": self.outcome.error,
                "not_judged": not_judged(self.analysis),
                "confirmation_status": (self.confirmation.status
                                        if self.confirmation is not None else None),
                "comparison": comparison_json(comparison)}


#: The line of a commit not judged, by ``not_judged``'s word.
_NOT_JUDGED_DETAIL = {
    "no_baseline": "no baseline yet",
    "other_machine": "not judged: the baseline is another machine's",
    "other_hardware": "not judged: the baseline was measured on other hardware "
                      "(a replaced CPU under this machine_id)",
}


def commit_verdict(outcome: CommitMaterialization, analysis: CommitAnalysis | None,
                   confirmation: Confirmation | None) -> CommitVerdict:
    """What one commit's run came to; the screen and its confirmation in one line."""
    from perf_pipeline.demo import describe_stages

    def make(verdict: str, detail: str) -> CommitVerdict:
        return CommitVerdict(outcome.sha, verdict, detail, outcome, analysis, confirmation)

    if outcome.failed_checks:
        stages = describe_stages(confirmation) if confirmation is not None else ""
        return make("regression", f"gate failed ({', '.join(outcome.failed_checks)})"
                                  + (f"; {stages}" if stages else ""))
    if outcome.success and outcome.no_suite is not None:
        return make("no_suite", f"{outcome.no_suite} (not measured again; --force does)")
    if not outcome.success:
        return make("failed", f"failed: {outcome.error or 'run failed'}"
                              + failure_log_line(outcome))
    if analysis is None:
        return make("failed", "no analysis written")
    if analysis.comparison is None:
        return make("no_baseline", _NOT_JUDGED_DETAIL.get(not_judged(analysis) or "",
                                                          "not judged"))
    if confirmation is not None:
        final = confirmation.final or analysis.comparison
        return make("regression" if final.has_regression else "no_regression",
                    describe_stages(confirmation))
    n = len(analysis.comparison.regressions)
    return make("regression" if n else "no_regression",
                f"{n} significant regression(s)" if n else "no significant regression")


def failure_log_line(outcome: CommitMaterialization) -> str:
    """Where the rest is: the suite's output (raw ``run.json``) and the Dagster run."""
    where = [f"output: {outcome.output_path}"] if outcome.output_path else []
    if outcome.run_id:
        where.append(f"Dagster run {outcome.run_id} (Dagster's log of it: the instance's "
                     "event log, or stderr with -v)")
    return ("\n" + "; ".join(where)) if where else ""


def print_commit_verdict(verdict: CommitVerdict, *, console: Console = out) -> None:
    """``0123abcd45 regression    gate failed (...)``; on stderr when stdout holds JSON."""
    style = _STYLE.get(verdict.verdict, "default")
    console.print(f"{verdict.sha[:10]} [{style}]{verdict.verdict:<13}[/] {plain(verdict.detail)}")


def print_backfill(result: BackfillOutcome) -> None:
    """One line that accounts for every commit considered: measured now, only judged now
    (measured by a backfill stopped before their report), skipped as measured, without
    a suite (skipped as such or found so now). A commit only judged, and one found
    without a suite, were counted as measured (and the latter not as without a suite).
    The hint to use ``--force`` only when something was skipped: a ``--force`` backfill
    skips nothing, and was told to use ``--force``."""
    judged = len(result.judged_only)
    no_suite = len(result.no_suite)
    out.print(f"{len(result.measured_now)} commit(s) measured, "
              + (f"{judged} judged without measuring again (measured before, never "
                 "reported), " if judged else "")
              + f"{len(result.skipped) - len(result.skipped_no_suite)} already measured"
              + (f", {no_suite} without a benchmark suite" if no_suite else "")
              + (" (use --force to re-measure)" if result.skipped else ""))


def backfill_json(result: BackfillOutcome, verdicts: list[CommitVerdict]
                  ) -> tuple[str, dict[str, object]]:
    """The verdict word and the document's fields (see ``json_doc`` for the envelope)."""
    word = ("failed" if result.broken else "no_suite" if result.tip_without_suite else
            "regression" if result.regressed else "no_regression")
    return word, {
        "commits": [v.to_json() for v in verdicts],
        "measured": list(result.measured_now), "judged_only": list(result.judged_only),
        "skipped": list(result.skipped), "no_suite": list(result.no_suite),
        "regressed": list(result.regressed), "broken": list(result.broken),
    }
