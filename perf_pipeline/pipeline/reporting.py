"""Gather what a report shows from the history, and write it: the reporting step."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perf_pipeline.analysis import change_points_of, drifts_of, factor_free_series
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.layout import machine_dir_name
from perf_pipeline.model import (
    METRICS,
    Baseline,
    CommitAnalysis,
    Confirmation,
    Culprit,
    MetricSeries,
    ProfileComparison,
    ReportData,
    RunInfo,
    RunStatus,
    SuiteRun,
)
from perf_pipeline.pipeline.alerts import alerts_of
from perf_pipeline.pipeline.baseline import (
    baseline_for_run,
    judging_machine,
    machines_apart,
    now_iso,
)
from perf_pipeline.pipeline.confirm import read_commit_confirmation
from perf_pipeline.pipeline.culprit_result import read_culprits
from perf_pipeline.pipeline.hardware_mix import hardware_groups, series_by_hardware
from perf_pipeline.pipeline.profile import read_commit_profile
from perf_pipeline.pipeline.regression import analyze_run, pooled_commit_run
from perf_pipeline.pipeline.report_location import with_report_location
from perf_pipeline.report import HTML_NAME, ReportFiles, write_report
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
    machine_id: str | None = None,
    machine_links: tuple[tuple[str, str], ...] = (),
    culprits: tuple[Culprit, ...] = (),
    through_commit: str | None = None,
) -> ReportData:
    """Everything a renderer needs, read once from the store.

    With a ``confirmation`` its final verdict is the report's comparison (the screen and
    the A/B get sections of their own); else the analysis's comparison. The history
    (runs, series, change points, drifts) is that of one machine: ``machine_id``, by
    default the current run's (None: a history that records no machines).
    ``through_commit`` ends the history at that commit's last run (a commit's report):
    regenerated later, it shows what was known at the commit, not the commits after it,
    whose change points would otherwise move its alerts.
    """
    store = ws.store
    if machine_id is None and current is not None:
        machine_id = current.machine_id
    series = store.series(suite="benchmarks", metrics=REPORT_METRICS, machine_id=machine_id)
    runs = store.list_runs(machine_id=machine_id)  # every suite: stress runs too
    # A commit with no suite (before the benchmarks existed) is no point of the history,
    # and no failed run either.
    runs = tuple(r for r in runs if r.status is not RunStatus.NO_SUITE)
    if through_commit is not None:
        runs, series, culprits = _through(through_commit, runs, series, culprits)
    # Change points and drifts on histories without each run's suite-wide factor: the
    # machine's load waves are not the code's (analysis/run_factors.py); and per
    # hardware, a CPU swap under one machine id being no change of the code's
    # (pipeline/hardware_mix.py).
    timed = tuple(s for part in series_by_hardware(series, runs)
                  for s in factor_free_series(part))
    comparison = analysis.comparison if analysis else None
    if confirmation is not None and confirmation.final is not None:
        comparison = confirmation.final
    # A commit's runs (of this one machine) are replicates of one point of the history.
    sha_of = {r.run_id: r.commit.sha for r in runs if r.commit is not None}

    def commits(s: MetricSeries) -> list[str]:
        return [sha_of.get(r, r) for r in s.run_ids]

    return ReportData(
        title=title, generated_at=now_iso(), current=current, baseline=baseline,
        comparison=comparison, confirmation=confirmation,
        runs=runs,
        series=series,
        change_points=tuple(
            cp for s in timed for cp in change_points_of(s.name, s.metric, s.run_ids,
                                                         s.values, commits=commits(s))),
        drifts=tuple(d for s in timed for d in drifts_of(s.name, s.metric, s.run_ids,
                                                         s.values, commits=commits(s))),
        environment_differences=analysis.environment_differences if analysis else (),
        # The confirmation repeats the analysis's notes when it has nothing to add (no
        # baseline): each note once.
        notes=tuple(dict.fromkeys((*(analysis.notes if analysis else ()),
                                   *(confirmation.notes if confirmation else ()),
                                   *extra_notes))),
        report_url=report_url, machine_id=machine_id, machine_links=machine_links,
        culprits=culprits)


def _through(sha: str, runs: tuple[RunInfo, ...], series: tuple[MetricSeries, ...],
             culprits: tuple[Culprit, ...]
             ) -> tuple[tuple[RunInfo, ...], tuple[MetricSeries, ...], tuple[Culprit, ...]]:
    """The history up to and including ``sha``'s last run (history order), the series
    cut to those runs and the culprits named among their commits. A commit with no run
    here keeps the whole history (nothing to cut at)."""
    last = max((i for i, r in enumerate(runs) if r.commit is not None and r.commit.sha == sha),
               default=None)
    if last is None:
        return runs, series, culprits
    runs = runs[:last + 1]
    kept = {r.run_id for r in runs}
    shas = {r.commit.sha for r in runs if r.commit is not None}

    def cut(s: MetricSeries) -> MetricSeries:
        idx = [i for i, run_id in enumerate(s.run_ids) if run_id in kept]
        return replace(s, run_ids=tuple(s.run_ids[i] for i in idx),
                       values=tuple(s.values[i] for i in idx),
                       lows=tuple(s.lows[i] for i in idx),
                       highs=tuple(s.highs[i] for i in idx))

    return (runs, tuple(c for c in map(cut, series) if c.run_ids),
            tuple(c for c in culprits if c.bad_sha in shas))


def _profile_is_current(profiles: ProfileComparison | None, sha: str,
                        confirmation: Confirmation | None) -> bool:
    """A commit's profile belongs in its report when it profiled this commit's
    regressions as this run's confirmation confirmed them: made after the confirmation,
    which confirmed at least one regression."""
    return (profiles is not None and profiles.candidate_sha == sha
            and confirmation is not None and confirmation.has_regression
            and profiles.created_at >= confirmation.created_at)


def _confirmation_of(ws: Workspace, run: SuiteRun, analysis: CommitAnalysis
                     ) -> tuple[Confirmation | None, tuple[str, ...]]:
    """The two-stage verdict of ``run`` (its commit's confirmation file, when it confirmed
    this very run), or a note that the stored-baseline comparison stands alone: every
    report of a commit shows the verdict its gate had, not the screen's."""
    settings = ws.settings
    if run.sha is None:  # plain result files: no commit to confirm, nothing to say
        return None, ()
    confirmation = read_commit_confirmation(ws, run.sha, run_id=run.run_id)
    if confirmation is None and settings.confirm == "auto" and analysis.comparison:
        return None, ("No confirmation of this run yet (regression_confirmation): the "
                      f"verdicts are the stored-baseline comparison at alpha "
                      f"{settings.alpha:g} alone.",)
    return confirmation, ()


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
    run = pooled_commit_run(ws, sha)  # its runs of one machine, pooled
    if run is None:
        raise InvalidInputError(f"commit {sha}: no successful benchmark run to report on")
    baseline = baseline_for_run(ws, run)
    analysis = analyze_run(run, baseline, settings,
                           other_machines=machines_apart(ws, run, baseline))
    confirmation, extra = _confirmation_of(ws, run, analysis)
    data = build_report_data(ws, title=f"Performance of {sha[:10]}", current=run,
                             baseline=baseline, analysis=analysis, report_url=report_url,
                             confirmation=confirmation, extra_notes=extra,
                             culprits=read_culprits(ws), through_commit=sha)
    from perf_pipeline.pipeline.stress import judge_stress  # it imports us

    judged = judge_stress(ws, sha)  # the commit's stress run, if any
    if judged is not None:
        data = replace(data, stress=judged.shown,
                       stress_baseline=judged.label, stress_note=judged.notes)
    data = replace(data, alerts=alerts_of(data, run_ids={run.run_id}))
    profiles = read_commit_profile(ws, sha)  # "where the time went", if profiled
    if _profile_is_current(profiles, sha, confirmation):
        data = replace(data, profiles=profiles)
    out = ws.layout.commit_report_dir(sha)
    data = with_report_location(ws, data, out, report_url=report_url)
    files = write_report(data, out, markdown_path=out / "performance-report.md",
                         inline_js=False, js_dir=ws.layout.reports_dir)
    return analysis, files


def _history_data(ws: Workspace, *, machine_id: str | None,
                  links: tuple[tuple[str, str], ...], report_url: str | None) -> ReportData:
    store = ws.store
    run = store.latest_run(suite="benchmarks", machine_id=machine_id)
    if run is not None and run.sha is not None:  # the newest commit, all its runs here
        run = store.commit_run(run.sha, suite="benchmarks", machine_id=run.machine_id) or run
    baseline = baseline_for_run(ws, run) if run else None
    analysis = (analyze_run(run, baseline, ws.settings,
                            other_machines=machines_apart(ws, run, baseline))
                if run else None)
    notes: tuple[str, ...] = () if run else ("No successful run in the history yet.",)
    confirmation = None
    if run is not None and analysis is not None:
        # The newest commit as its gate judged it: the dashboard said "no significant
        # regression" beside a commit report (and a failed gate) with a confirmed one.
        confirmation, extra = _confirmation_of(ws, run, analysis)
        notes += extra
    data = build_report_data(ws, title="Performance history", current=run,
                             baseline=baseline, analysis=analysis, report_url=report_url,
                             extra_notes=notes, machine_id=machine_id, machine_links=links,
                             culprits=read_culprits(ws), confirmation=confirmation)
    n_hardware = len(hardware_groups(data.runs))
    if n_hardware > 1:  # why a step in the charts has no change point
        data = replace(data, notes=(*data.notes, (
            f"The runs of machine {machine_id} span {n_hardware} hardware (a CPU or VM "
            "type replaced under one machine_id): change points and drifts are looked "
            "for within each hardware's runs, never across a change of hardware, which "
            "the charts show as a step.")))
    return data


def write_history_report(ws: Workspace, *, markdown_path: Path | None = None,
                         report_url: str | None = None) -> tuple[ReportData, ReportFiles]:
    """The whole-history report: ``<results>/reports/performance_report.html`` and PNGs.

    The newest successful run is the "current" one, judged against its baseline; with no
    runs at all the report still renders and says so. The page shows this machine's
    history (``judging_machine``: else the machine that measured last), and its alerts;
    when the history holds several machines, each also gets a page under
    ``reports/machines/<id>/``, and every page links to all of them.
    """
    store = ws.store
    newest = store.latest_run(suite="benchmarks")
    machines = store.machines(suite="benchmarks")
    # This machine's history (its own alerts): the newest run of any machine once
    # decided, so in a fleet each location showed (and alerted on) whichever machine
    # measured last, and its own change points were never sent.
    here = judging_machine(ws) if newest else None
    main_links: tuple[tuple[str, str], ...] = ()
    if len(machines) > 1:
        main_links = tuple((m, f"machines/{machine_dir_name(m)}/{HTML_NAME}")
                           for m in machines)
        for machine in machines:
            links = tuple((m, f"../{machine_dir_name(m)}/{HTML_NAME}") for m in machines)
            data = _history_data(ws, machine_id=machine, links=links, report_url=None)
            write_report(data, ws.layout.machine_report_dir(machine), inline_js=False,
                         js_dir=ws.layout.reports_dir)
    data = _history_data(ws, machine_id=here, links=main_links, report_url=report_url)
    data = replace(data, alerts=alerts_of(data))
    data = with_report_location(ws, data, ws.layout.reports_dir, report_url=report_url)
    files = write_report(data, ws.layout.reports_dir, markdown_path=markdown_path)
    return data, files
