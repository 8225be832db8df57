"""Report assets: one per commit (Markdown + HTML + PNGs) and the whole history.

``perf_pipeline.pipeline`` is imported in the asset bodies, as in ``defs/analysis.py``.
"""

import dagster as dg

from perf_pipeline.defs.analysis import PER_COMMIT_AUTOMATION, performance_baseline
from perf_pipeline.defs.confirmation import regression_confirmation
from perf_pipeline.defs.measurement import benchmark_results
from perf_pipeline.defs.partitions import commits_partitions
from perf_pipeline.defs.profile import regression_profile
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError


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
                "blocking gate.",
)
def performance_report(context: dg.AssetExecutionContext,
                       workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import write_commit_report

    try:
        with workspace.open() as ws:
            _, files = write_commit_report(ws, context.partition_key)
    except PerfPipelineError as exc:
        raise dg.Failure(description=f"commit {context.partition_key}: {exc}") from exc
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
    automation_condition=dg.AutomationCondition.eager(),
    description="Trend dashboard of the whole history: test-results/reports/"
                "performance_report.html and PNGs.",
)
def performance_history(workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import write_history_report

    try:
        with workspace.open() as ws:
            data, files = write_history_report(
                ws, markdown_path=ws.layout.reports_dir / "performance-report.md")
    except PerfPipelineError as exc:
        raise dg.Failure(description=f"history report: {exc}") from exc
    assert files.markdown is not None
    return dg.MaterializeResult(metadata={
        "runs": len(data.runs),
        "report": dg.MetadataValue.md(files.markdown.read_text(encoding="utf-8")),
        "html_path": dg.MetadataValue.path(str(files.html)),
        "pngs": len(files.pngs),
    })
