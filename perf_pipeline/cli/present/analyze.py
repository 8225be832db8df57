"""How the outcome of ``analyze`` is shown: lines for people, a document for machines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.cli.console import err, out, plain
from perf_pipeline.cli.present.comparison import comparison_json, print_flagged
from perf_pipeline.cli.present.json_doc import not_judged, verdict_word
from perf_pipeline.cli.present.results import ingest_error_line

if TYPE_CHECKING:
    from perf_pipeline.pipeline import AnalyzeOutcome

__all__ = ["analyze_json", "print_analyze", "verdict_line"]


#: The verdict line of a run not judged, by why (``json_doc.not_judged``): a baseline of
#: other hardware or of another machine is still a baseline, and "no baseline before
#: this run" beside a note saying why it could not judge read as a contradiction.
_NOT_JUDGED_LINE = {
    "no_baseline": "verdict: no comparison (no baseline before this run)",
    "other_machine": "verdict: not judged (the baseline is another machine's: see the note)",
    "other_hardware": "verdict: not judged (the baseline was measured on other hardware: "
                      "see the note)",
}


def verdict_line(outcome: AnalyzeOutcome) -> str:
    comparison = outcome.verdict
    if comparison is None:
        return _NOT_JUDGED_LINE.get(not_judged(outcome.analysis) or "no_baseline",
                                    "verdict: not judged (see the note)")
    n = len(comparison.regressions)
    confirmed = (" (flags confirmed by interleaved A/B)"
                 if outcome.confirmation and outcome.confirmation.status == "confirmed" else "")
    return (f"verdict: {n} significant regression(s), {len(comparison.improvements)} "
            f"improvement(s) at alpha={comparison.alpha:g}, "
            f"threshold={outcome.analysis.threshold:g}{confirmed}")


def print_analyze(outcome: AnalyzeOutcome, report: Path) -> None:
    for path, message in outcome.ingest.errors:
        err.print(ingest_error_line(path, message))
    run = outcome.run
    out.print(f"newest run: {plain(run.run_id)} "
              f"({run.sha[:10] if run.sha else 'no commit'}), "
              f"{len(run.benchmarks)} benchmarks; "
              f"{len(outcome.ingest.ingested)} new result file(s) ingested")
    if outcome.baseline_created:
        out.print(f"no baseline yet: created {plain(outcome.baseline_path)} from this run")
    elif outcome.verdict is not None:
        print_flagged(outcome.verdict)
    confirmation = outcome.confirmation
    if confirmation is not None and confirmation.flagged:
        out.print(f"screen (alpha {confirmation.screen_alpha:g}) flagged "
                  f"{len(confirmation.flagged)}"
                  f"{f' (+{len(confirmation.suspects)} suspect)' if confirmation.suspects else ''}"
                  f"; confirmation: {confirmation.status}, "
                  f"{confirmation.rounds_used} A/B round(s) against "
                  f"{(confirmation.base_sha or '–')[:10]}", markup=False)
    if outcome.baseline_updated:
        out.print(f"baseline updated: {plain(outcome.baseline_path)}")
    for note in (*outcome.analysis.notes, *(confirmation.notes if confirmation else ())):
        err.print(f"note: {plain(note)}")
    out.print(verdict_line(outcome))
    out.print(f"report: {plain(report)}  (HTML: {plain(outcome.files.html)})")


def analyze_json(outcome: AnalyzeOutcome, report: Path) -> tuple[str, dict[str, object]]:
    """The verdict word and the document's fields (see ``json_doc`` for the envelope)."""
    run, analysis, confirmation = outcome.run, outcome.analysis, outcome.confirmation
    verdict = verdict_word(regression=outcome.has_regression,
                           compared=outcome.verdict is not None)
    return verdict, {
        "run": {"run_id": run.run_id, "sha": run.sha, "benchmarks": len(run.benchmarks)},
        "ingest": {"ingested": list(outcome.ingest.ingested),
                   "skipped": len(outcome.ingest.skipped),
                   "errors": [{"path": p, "message": m} for p, m in outcome.ingest.errors]},
        "baseline": {"path": str(outcome.baseline_path), "created": outcome.baseline_created,
                     "updated": outcome.baseline_updated,
                     "run_ids": list(analysis.baseline_run_ids)},
        "not_judged": not_judged(analysis),
        "threshold": analysis.threshold, "alpha": analysis.alpha,
        "comparison": comparison_json(outcome.verdict),
        "confirmation": None if confirmation is None else {
            "status": confirmation.status, "screen_alpha": confirmation.screen_alpha,
            "flagged": list(confirmation.flagged),
            "suspects": list(confirmation.suspects), "rounds_used": confirmation.rounds_used,
            "base_sha": confirmation.base_sha},
        "notes": [*analysis.notes, *(confirmation.notes if confirmation else ())],
        "report": {"markdown": str(report), "html": str(outcome.files.html)},
    }
