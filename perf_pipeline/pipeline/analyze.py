"""``perf-pipeline analyze``: results dir in, verdict, report and baseline out.

This is the documented ``analyze_performance.py`` interface. It works on any folder of
pytest-benchmark JSON files (ours or someone else's), with or without git.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import IngestSummary
from perf_pipeline.model import CommitAnalysis, Confirmation, RunStatus, SuiteComparison, SuiteRun
from perf_pipeline.pipeline.alerts import alerts_of
from perf_pipeline.pipeline.baseline import (
    baseline_for_run,
    check_baseline_run,
    judging_machine,
    machines_apart,
    pin_baseline,
    seed_baseline,
)
from perf_pipeline.pipeline.confirm import confirm_run
from perf_pipeline.pipeline.culprit_result import read_culprits
from perf_pipeline.pipeline.ingest import ingest_results
from perf_pipeline.pipeline.regression import analyze_run
from perf_pipeline.pipeline.report_location import with_report_location
from perf_pipeline.pipeline.reporting import build_report_data
from perf_pipeline.report import ReportFiles, write_report
from perf_pipeline.store import read_baseline
from perf_pipeline.workspace import Workspace

__all__ = ["AnalyzeOutcome", "analyze_results_dir"]


@dataclass(frozen=True, slots=True)
class AnalyzeOutcome:
    """What ``analyze`` did, for the CLI to print and map to an exit code."""

    run: SuiteRun
    analysis: CommitAnalysis
    ingest: IngestSummary
    files: ReportFiles
    baseline_path: Path
    baseline_created: bool = False
    baseline_updated: bool = False
    confirmation: Confirmation | None = None

    @property
    def verdict(self) -> SuiteComparison | None:
        """What decides the exit code: the two-stage verdict, else the comparison."""
        if self.confirmation is not None and self.confirmation.final is not None:
            return self.confirmation.final
        return self.analysis.comparison

    @property
    def has_regression(self) -> bool:
        return self.verdict is not None and self.verdict.has_regression


def _newest_run(ws: Workspace, ingested: tuple[str, ...] = ()) -> SuiteRun:
    """The run ``analyze`` judges: the newest of the machine whose files were just
    ingested (pytest-benchmark files from another box carry that box's id), else of
    ``judging_machine``; its commit's runs of that machine pooled."""
    machine = judging_machine(ws)
    if ingested:
        fresh = [r for r in ws.store.list_runs(suite="benchmarks") if r.run_id in ingested]
        if fresh:
            machine = fresh[-1].machine_id  # history order: the newest ingested
    newest = ws.store.latest_run(suite="benchmarks", status=None, machine_id=machine)
    if newest is None:
        raise InvalidInputError(
            f"no benchmark results in {ws.layout.root}: run the suite with "
            "--benchmark-json, or `perf-pipeline run`, first")
    pooled = (ws.store.commit_run(newest.sha, machine_id=newest.machine_id)  # one machine's
              if newest.sha is not None else None)
    if pooled is not None:  # all the commit's successful runs; a failed re-run hides none
        return pooled
    if newest.status is RunStatus.NO_SUITE:
        raise InvalidInputError(
            f"the newest run ({newest.run_id} at {newest.sha or 'unknown commit'}) measured "
            f"nothing, so there is nothing to compare: {(newest.error or '').strip()[:500]}")
    if newest.status is not RunStatus.SUCCESS:
        raise InvalidInputError(
            f"the newest run ({newest.run_id} at {newest.sha or 'unknown commit'}) failed, "
            f"so there is nothing to compare: {(newest.error or '').strip()[:500]}")
    return newest


def analyze_results_dir(ws: Workspace, *, report_path: Path,
                        update_baseline: bool = False, baseline_named: bool = False,
                        on_round: Callable[[int, int], None] | None = None) -> AnalyzeOutcome:
    """Ingest new files, judge the newest run against its baseline, write the report.

    The baseline is the pinned file if there is one, else the rolling baseline of the
    runs before the newest. No baseline yet: one is written from the newest run, and the
    report says so (no verdict). ``update_baseline``: after judging, the newest run
    becomes the pinned baseline. With ``confirm = "auto"`` the comparison is the screen
    and its flags are confirmed by an interleaved A/B when the run's commit and the
    baseline's are in the configured repo (``pipeline.confirm``).

    ``baseline_named``: the baseline file was named outright (``--baseline``), so it is
    what the run is judged against whatever its policy, and it is never rewritten but by
    ``update_baseline``. A rolling file (what CI leaves in its artifacts) was otherwise
    passed over for this history's own rolling baseline, or, in a history with no
    earlier run, "no baseline yet" and the named file overwritten by this run.
    """
    settings, layout = ws.settings, ws.layout
    created = updated = False
    confirmation = None
    summary = ingest_results(ws)
    run = _newest_run(ws, summary.ingested)
    if baseline_named:
        baseline = read_baseline(layout.baseline_path)
        if baseline is None:
            raise InvalidInputError(f"baseline file {layout.baseline_path} does not exist")
    else:
        baseline = baseline_for_run(ws, run)
    if baseline is None or update_baseline:
        check_baseline_run(run)
    if baseline is None:
        analysis = analyze_run(run, None, settings,
                               other_machines=machines_apart(ws, run, None))
        extra = ((f"Baseline pinned to this run at {layout.baseline_path}; the next runs "
                  "are judged against it.",) if update_baseline else
                 (f"Baseline created from this run at {layout.baseline_path}; "
                  "the next run is judged against it.",))
    else:
        analysis = analyze_run(run, baseline, settings)
        if settings.confirm == "auto":
            confirmation = confirm_run(ws, run, baseline, on_round=on_round)
        extra = ((f"Baseline pinned to this run at {layout.baseline_path}.",)
                 if update_baseline else ())
    data = build_report_data(ws, title="Performance report", current=run,
                             baseline=baseline, analysis=analysis, extra_notes=extra,
                             confirmation=confirmation, culprits=read_culprits(ws))
    # What the newest run brought to the history, as a commit's report lists it: without
    # it this report (the PR comment of plain pytest-benchmark files) never said that a
    # drift ended at its run, and it replaced the history page that did.
    data = replace(data, alerts=alerts_of(data, run_ids={run.run_id}))
    # The report is written before the baseline moves: a report that cannot be written
    # (a full disk) then leaves the baseline as it was, and the same command run again
    # judges this run against the same baseline, instead of against itself.
    data = with_report_location(ws, data, layout.reports_dir)
    files = write_report(data, layout.reports_dir, markdown_path=report_path)
    if baseline is None:
        # --update-baseline pins whatever the policy: seeding a rolling file here left
        # the first run "pinned" by the user moving on with every later commit.
        (pin_baseline if update_baseline else seed_baseline)(ws, run)
        created, updated = True, update_baseline
    elif update_baseline:
        pin_baseline(ws, run)
        updated = True
    return AnalyzeOutcome(run=run, analysis=analysis, ingest=summary, files=files,
                          baseline_path=layout.baseline_path, baseline_created=created,
                          baseline_updated=updated, confirmation=confirmation)
