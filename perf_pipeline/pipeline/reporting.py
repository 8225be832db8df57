"""Gather what a report shows from the history, and write it: the reporting step."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perf_pipeline.analysis import change_points_of, drifts_of
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    METRICS,
    TIME_METRIC,
    Baseline,
    CommitAnalysis,
    Confirmation,
    ProfileComparison,
    ReportData,
    RunStatus,
    SuiteRun,
)
from perf_pipeline.pipeline.baseline import baseline_for_run, now_iso
from perf_pipeline.pipeline.confirm import read_commit_confirmation
from perf_pipeline.pipeline.profile import read_commit_profile
from perf_pipeline.pipeline.regression import analyze_run
from perf_pipeline.report import ReportFiles, write_report
from perf_pipeline.workspace import Workspace

__all__ = ["build_report_data", "write_commit_report", "write_history_report"]

#: Metrics whose history the reports plot and correlate.
REPORT_METRICS: tuple[str, ...] = tuple(METRICS)


def build_report_data(
    ws: Workspace,
    *,
    title: str,
    current: SuiteRun | None,
    baseline: Baseline | None,
    analysis: CommitAnalysis | None,
    report_url: str | None = None,
    extra_notes: tuple[str, ...] = (),
    confirmation: Confirmation | None = None,
) -> ReportData:
    """Everything a renderer needs, read once from the store.

    With a ``confirmation`` its final verdict is the report's comparison (the screen and
    the A/B get sections of their own); else the analysis's comparison.
    """
    store = ws.store
    series = store.series(suite="benchmarks", metrics=REPORT_METRICS)
    comparison = analysis.comparison if analysis else None
    if confirmation is not None and confirmation.final is not None:
        comparison = confirmation.final
    return ReportData(
        title=title, generated_at=now_iso(), current=current, baseline=baseline,
        comparison=comparison, confirmation=confirmation,
        runs=store.list_runs(),  # every suite: the report lists stress runs too
        series=series,
        change_points=tuple(
            cp for s in series if s.metric == TIME_METRIC
            for cp in change_points_of(s.name, s.metric, s.run_ids, s.values)),
        drifts=tuple(d for s in series if s.metric == TIME_METRIC
                     for d in drifts_of(s.name, s.metric, s.run_ids, s.values)),
        environment_differences=analysis.environment_differences if analysis else (),
        notes=(*(analysis.notes if analysis else ()),
               *(confirmation.notes if confirmation else ()), *extra_notes),
        report_url=report_url)


def _profile_is_current(profiles: ProfileComparison | None, sha: str,
                        confirmation: Confirmation | None) -> bool:
    """A commit's profile belongs in its report when it profiled this commit's
    regressions as this run's confirmation confirmed them: made after the confirmation,
    which confirmed at least one regression."""
    return (profiles is not None and profiles.candidate_sha == sha
            and confirmation is not None and confirmation.has_regression
            and profiles.created_at >= confirmation.created_at)


def write_commit_report(ws: Workspace, sha: str, *,
                        report_url: str | None = None) -> tuple[CommitAnalysis, ReportFiles]:
    """Markdown, HTML and PNGs for one commit, judged against its baseline.

    The stored-baseline comparison is recomputed here (it is deterministic and cheap).
    The two-stage verdict comes from the commit's confirmation file when it confirmed
    this very run; without one the comparison at ``settings.alpha`` is the verdict, and
    with ``confirm = "auto"`` a note says the screen's flags were not confirmed. The
    profile of the confirmed regressions (``regression_profile``, ``profile/<sha>.json``)
    is shown as "Where the time went" when it was made for this confirmation.
    """
    settings = ws.settings
    run = ws.store.latest_run(suite="benchmarks", sha=sha, status=RunStatus.SUCCESS)
    if run is None:
        raise InvalidInputError(f"commit {sha}: no successful benchmark run to report on")
    baseline = baseline_for_run(ws, run)
    analysis = analyze_run(run, baseline, settings)
    confirmation = read_commit_confirmation(ws, sha, run_id=run.run_id)
    extra: tuple[str, ...] = ()
    if confirmation is None and settings.confirm == "auto" and analysis.comparison:
        extra = ("No confirmation of this run yet (regression_confirmation): the "
                 f"verdicts are the stored-baseline comparison at alpha "
                 f"{settings.alpha:g} alone.",)
    data = build_report_data(ws, title=f"Performance of {sha[:10]}", current=run,
                             baseline=baseline, analysis=analysis, report_url=report_url,
                             confirmation=confirmation, extra_notes=extra)
    profiles = read_commit_profile(ws, sha)  # "where the time went", if profiled
    if _profile_is_current(profiles, sha, confirmation):
        data = replace(data, profiles=profiles)
    out = ws.layout.commit_report_dir(sha)
    files = write_report(data, out, markdown_path=out / "performance-report.md",
                         inline_js=False)
    return analysis, files


def write_history_report(ws: Workspace, *, markdown_path: Path | None = None,
                         report_url: str | None = None) -> tuple[ReportData, ReportFiles]:
    """The whole-history report: ``<results>/reports/performance_report.html`` and PNGs.

    The newest successful run is the "current" one, judged against its baseline; with no
    runs at all the report still renders and says so.
    """
    run = ws.store.latest_run(suite="benchmarks")
    baseline = baseline_for_run(ws, run) if run else None
    analysis = analyze_run(run, baseline, ws.settings) if run else None
    notes = () if run else ("No successful run in the history yet.",)
    data = build_report_data(ws, title="Performance history", current=run,
                             baseline=baseline, analysis=analysis,
                             report_url=report_url, extra_notes=notes)
    files = write_report(data, ws.layout.reports_dir, markdown_path=markdown_path)
    return data, files
