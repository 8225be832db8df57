"""Report assets: one per commit (Markdown + HTML + PNGs) and the whole history.

``perf_pipeline.pipeline`` is imported in the asset bodies, as in ``defs/analysis.py``.
"""

import dagster as dg

from perf_pipeline.defs.analysis import (
    HISTORY_AUTOMATION,
    PER_COMMIT_AUTOMATION,
    performance_baseline,
)
from perf_pipeline.defs.confirmation import regression_confirmation
from perf_pipeline.defs.measurement import benchmark_results
from perf_pipeline.defs.metadata import not_judged_metadata
from perf_pipeline.defs.partitions import commit_failure, commits_partitions, partition_sha
from perf_pipeline.defs.profile import regression_profile
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.pipeline.no_suite import commit_without_suite


@dg.asset(
    partitions_def=commits_partitions,
    # Downstream of the confirmation (the report shows both stages) and of the profile
    # of its confirmed regressions ("Where the time went", shown when it exists); the
    # blocking gate is a check on this asset, so it runs after the report is written
    # (defs/confirmation.py). No check upstream of here is blocking.
    deps=[benchmark_results, performance_baseline, regression_confirmation,
          regression_profile],
    group_name="report",
    kinds={"html", "markdown"},
    automation_condition=PER_COMMIT_AUTOMATION,
    description="performance-report.md (also the PR comment), the HTML report and PNGs "
                "for this commit, under test-results/reports/commits/<sha>/: the screen, "
                "the confirmation, the final verdict and, when regression_profile "
                "profiled the confirmed regressions, where the time went. Carries the "
                "blocking gate. At a commit without the suite: no report (nothing was "
                "measured), metadata saying so.",
)
def performance_report(context: dg.AssetExecutionContext,
                       workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import write_commit_report

    sha = partition_sha(context)
    try:
        with workspace.open() as ws:
            if (empty := commit_without_suite(ws, sha)) is not None:
                # No file: a report (or PR comment) of a commit with nothing measured
                # would read as a commit judged and found unchanged.
                return dg.MaterializeResult(
                    metadata=not_judged_metadata(empty, step="performance_report"))
            _, files = write_commit_report(ws, sha)
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc) from exc
    assert files.markdown is not None
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(files.markdown.read_text(encoding="utf-8")),
        "markdown_path": dg.MetadataValue.path(str(files.markdown)),
        "html_path": dg.MetadataValue.path(str(files.html)),
        "pngs": len(files.pngs),
    })


@dg.asset(
    deps=[benchmark_results, performance_baseline],
    group_name="report",
    kinds={"html"},
    automation_condition=HISTORY_AUTOMATION,
    description="Trend dashboard of the whole history: test-results/reports/"
                "performance_report.html and PNGs.",
)
def performance_history(context: dg.AssetExecutionContext,
                        workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import write_history_report
    from perf_pipeline.pipeline.alerts import deliver_alerts

    try:
        with workspace.open() as ws:
            data, files = write_history_report(
                ws, markdown_path=ws.layout.reports_dir / "performance-report.md")
            delivery = deliver_alerts(ws, data.alerts, machine_id=data.machine_id)
    except PerfPipelineError as exc:
        raise dg.Failure(description=f"history report: {exc}") from exc
    if delivery.error:  # the report is written; the next materialization retries
        context.log.warning(f"alerts not delivered: {delivery.error}")
    assert files.markdown is not None
    return dg.MaterializeResult(metadata={
        "runs": len(data.runs),
        "report": dg.MetadataValue.md(files.markdown.read_text(encoding="utf-8")),
        "html_path": dg.MetadataValue.path(str(files.html)),
        "pngs": len(files.pngs),
        **history_findings_metadata(data),
        "alerts_delivery": dg.MetadataValue.text(
            f"{delivery.status}: {len(delivery.sent)} sent" + (
                f"; {delivery.error}" if delivery.error else "")),
    })


def history_findings_metadata(data: object) -> dict[str, dg.MetadataValue]:
    """Change points, drifts and culprits per benchmark and metric, as Markdown tables."""
    from perf_pipeline.model import ReportData

    assert isinstance(data, ReportData)
    shas = {r.run_id: (r.commit.sha[:10] if r.commit else r.run_id[:10]) for r in data.runs}

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    cps = ["| benchmark | metric | from commit | ratio |", "|---|---|---|---:|", *(
        f"| `{cell(c.name)}` | {c.metric} | {shas.get(c.run_id, c.run_id[:10])} | "
        f"{c.ratio:.3f} |" for c in data.change_points)]
    drifts = ["| benchmark | metric | from | to | commits | ratio |", "|---|---|---|---|---:|---:|",
              *(f"| `{cell(d.name)}` | {d.metric} | {shas.get(d.start_run_id, '?')} | "
                f"{shas.get(d.end_run_id, '?')} | {d.commits} | {d.ratio:.3f} |"
                for d in data.drifts)]
    culprits = ["| benchmark | culprit | subject | author | A/B ratio | status |",
                "|---|---|---|---|---:|---|", *(
                    f"| `{cell(c.benchmark)}` | {(c.sha or '?')[:10]} | {cell(c.subject)} | "
                    f"{cell(c.author)} | "
                    f"{'–' if c.confirmed_ratio is None else f'{c.confirmed_ratio:.3f}'} | "
                    f"{c.status} |" for c in data.culprits)]
    return {
        "change_points": dg.MetadataValue.int(len(data.change_points)),
        "drifts": dg.MetadataValue.int(len(data.drifts)),
        "culprits": dg.MetadataValue.int(len(data.culprits)),
        "alerts": dg.MetadataValue.int(len(data.alerts)),
        "change_point_table": dg.MetadataValue.md("\n".join(cps)),
        "drift_table": dg.MetadataValue.md("\n".join(drifts)),
        "culprit_table": dg.MetadataValue.md("\n".join(culprits)),
    }
