"""Everything one report shows, gathered by the caller before rendering."""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.model.alert import Alert
from perf_pipeline.model.baseline import Baseline
from perf_pipeline.model.comparison import SuiteComparison
from perf_pipeline.model.confirmation import Confirmation
from perf_pipeline.model.culprit import Culprit
from perf_pipeline.model.profile import ProfileComparison
from perf_pipeline.model.runs import RunInfo, SuiteRun
from perf_pipeline.model.series import ChangePoint, Drift, MetricSeries
from perf_pipeline.model.stress import StressComparison

__all__ = ["ReportData"]


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
    #: Where a reader of the Markdown (a PR comment cut to GitHub's size limit) finds
    #: the HTML report: its own http(s) address; else the CI run whose artifacts hold it
    #: (GitHub Actions); and the file itself, as a path under the results dir (what the
    #: artifact holds too). None: not known, and the Markdown promises no link.
    report_url: str | None = None
    report_run_url: str | None = None
    report_path: str | None = None
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
