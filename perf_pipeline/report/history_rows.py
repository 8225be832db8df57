"""What the reports list about the history: change points, drifts, culprit searches.

One place for the rows, so the Markdown and the HTML report say the same thing; each
renderer escapes them its own way (``escape_markdown``, Jinja2's autoescape). Texts are
plain and unescaped here.
"""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.model import METRICS, ReportData
from perf_pipeline.report.units import format_ratio, ratio_number

__all__ = ["ChangePointRow", "CulpritRow", "DriftRow", "change_point_rows", "culprit_rows",
           "drift_rows"]


@dataclass(frozen=True, slots=True)
class ChangePointRow:
    name: str
    metric: str  # its label
    run: str  # the first run at the new level
    subject: str  # of that run's commit
    ratio: str  # "1.25×"


@dataclass(frozen=True, slots=True)
class DriftRow:
    name: str
    metric: str
    start: str
    end: str
    commits: int
    ratio: str


@dataclass(frozen=True, slots=True)
class CulpritRow:
    benchmark: str
    commit: str  # the culprit's short sha, or its suspects', or "" (an abandoned search)
    subject: str
    author: str
    step: str  # "–" for an abandoned search: it never measured its step
    ab: str  # the A/B ratio with its interval, or "–"
    status: str


def _metric_label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def change_point_rows(data: ReportData) -> tuple[ChangePointRow, ...]:
    """Where each benchmark's history moved to a new level, newest first."""
    labels = {r.run_id: r for r in data.runs}
    order = {r.run_id: i for i, r in enumerate(data.runs)}
    out = []
    for cp in sorted(data.change_points, key=lambda c: -order.get(c.run_id, -1)):
        run = labels.get(cp.run_id)
        out.append(ChangePointRow(
            name=cp.name, metric=_metric_label(cp.metric),
            run=run.label if run else cp.run_id,
            subject=run.commit.subject if run and run.commit else "",
            ratio=format_ratio(cp.ratio)))
    return tuple(out)


def drift_rows(data: ReportData) -> tuple[DriftRow, ...]:
    """Slow drifts no single change point explains, newest first."""
    labels = {r.run_id: r for r in data.runs}
    order = {r.run_id: i for i, r in enumerate(data.runs)}
    out = []
    for d in sorted(data.drifts, key=lambda d: -order.get(d.end_run_id, -1)):
        start, end = labels.get(d.start_run_id), labels.get(d.end_run_id)
        out.append(DriftRow(name=d.name, metric=_metric_label(d.metric),
                            start=start.label if start else d.start_run_id,
                            end=end.label if end else d.end_run_id,
                            commits=d.commits, ratio=format_ratio(d.ratio)))
    return tuple(out)


def culprit_rows(data: ReportData) -> tuple[CulpritRow, ...]:
    """Results of culprit searches, newest first.

    An abandoned search (its step gone before it began) names no commit and measured
    no step: its ``step_ratio`` is the default 1.0, which read as a step of "1.000×"."""
    out = []
    for c in reversed(data.culprits):
        ab = (f"{format_ratio(c.confirmed_ratio)} [{ratio_number(c.ci_low, near_one=False)}, "
              f"{ratio_number(c.ci_high, near_one=False)}]"
              if c.confirmed_ratio is not None else "–")
        who = c.sha[:10] if c.sha else ", ".join(s[:10] for s in c.suspects)
        out.append(CulpritRow(benchmark=c.benchmark, commit=who, subject=c.subject,
                              author=c.author, ab=ab,
                              step=("–" if c.status == "abandoned"
                                    else format_ratio(c.step_ratio)),
                              status=c.status))
    return tuple(out)
