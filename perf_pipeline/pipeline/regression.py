"""Judge one run against its baseline and keep the verdict: the regression step."""

from __future__ import annotations

from perf_pipeline.analysis import SCREEN_ALPHA, compare_to_baseline
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Baseline, CommitAnalysis, RunStatus, SuiteRun
from perf_pipeline.pipeline.baseline import baseline_for_run, now_iso
from perf_pipeline.store import read_analysis, write_analysis
from perf_pipeline.workspace import Workspace

__all__ = ["analyze_commit", "analyze_run", "commit_run", "read_commit_analysis",
           "screen_alpha"]


def screen_alpha(settings: Settings) -> float:
    """The level of the stored-baseline comparison of a commit: loose when an A/B
    confirmation follows (``confirm = "auto"``), the gate's own level otherwise."""
    return SCREEN_ALPHA if settings.confirm == "auto" else settings.alpha


def analyze_run(run: SuiteRun, baseline: Baseline | None, settings: Settings, *,
                alpha: float | None = None) -> CommitAnalysis:
    """Compare ``run`` with ``baseline`` (``None``: say there is none, decide nothing)
    at ``alpha`` (default ``settings.alpha``)."""
    alpha = settings.alpha if alpha is None else alpha
    if baseline is None:
        return CommitAnalysis(
            run_id=run.run_id, sha=run.sha, created_at=now_iso(), threshold=settings.threshold,
            alpha=alpha,
            notes=("No baseline yet: nothing earlier to compare with. This run can seed it.",))
    comparison = compare_to_baseline(baseline, run, threshold=settings.threshold,
                                     alpha=alpha, metrics=settings.gate_metrics)
    notes: list[str] = []
    diffs: tuple[tuple[str, str, str], ...] = ()
    if baseline.environment and run.environment:
        diffs = baseline.environment.differences(run.environment)
        if diffs:
            notes.append("The baseline was measured in a different environment "
                         f"(fingerprint {baseline.environment.fingerprint} vs "
                         f"{run.environment.fingerprint}): differences may not be the code's.")
    if run.run_id in baseline.source_run_ids:
        notes.append("This run is itself part of the baseline it is compared with.")
    return CommitAnalysis(
        run_id=run.run_id, sha=run.sha, created_at=now_iso(), threshold=settings.threshold,
        alpha=alpha, comparison=comparison, baseline_policy=baseline.policy,
        baseline_run_ids=baseline.source_run_ids, baseline_commits=baseline.source_commits,
        environment_differences=diffs, notes=tuple(notes))


def commit_run(ws: Workspace, sha: str) -> SuiteRun:
    """The commit's latest successful benchmark run: what both stages of the gate judge."""
    run = ws.store.latest_run(suite="benchmarks", sha=sha, status=RunStatus.SUCCESS)
    if run is None:
        raise InvalidInputError(
            f"commit {sha}: no successful benchmark run in {ws.layout.db_path}; "
            "materialize benchmark_results for it first")
    return run


def analyze_commit(ws: Workspace, sha: str) -> CommitAnalysis:
    """Screen the commit's latest successful run; write ``analysis/<sha>.json``.

    The level is ``screen_alpha(settings)``: with ``confirm = "auto"`` this is the first
    stage only, and ``regression_confirmation`` decides.
    """
    run = commit_run(ws, sha)
    analysis = analyze_run(run, baseline_for_run(ws, run), ws.settings,
                           alpha=screen_alpha(ws.settings))
    write_analysis(ws.layout.analysis_path(sha), analysis)
    return analysis


def read_commit_analysis(ws: Workspace, sha: str) -> CommitAnalysis | None:
    return read_analysis(ws.layout.analysis_path(sha))
