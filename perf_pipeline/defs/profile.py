"""Why is it slower: profile a commit's confirmed regressions against the A/B's base commit.

Graph shape (see defs/confirmation.py for the gate):

    regression_confirmation ─► regression_profile ─► performance_report
                                                       └ no_confirmed_regressions (ERROR)

``regression_profile`` reads the confirmation's file (the final verdict and the commit
the A/B measured against) and profiles only the benchmarks it confirmed as regressions.
It runs benchmarks (in untimed processes, but on the benchmark machine all the same), so
it is in the measuring pool. With no confirmed regression it is a cheap no-op whose
metadata says so. No check upstream of the report is blocking, so with a confirmed
regression one ``dagster asset materialize`` profiles it, writes the report with "Where
the time went", and then the gate on the report fails the run. A failure while
profiling is reported in the metadata (status ``failed``) rather than raised: the
profile is a diagnosis, and raising would skip the report the gate needs.
"""

import dagster as dg

from perf_pipeline.defs.analysis import PER_COMMIT_AUTOMATION
from perf_pipeline.defs.confirmation import regression_confirmation
from perf_pipeline.defs.fleet import measuring_turn
from perf_pipeline.defs.metadata import not_judged_metadata
from perf_pipeline.defs.partitions import (
    MEASURING_POOL,
    commit_failure,
    commits_partitions,
    partition_sha,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.pipeline.no_suite import commit_without_suite


@dg.asset(
    partitions_def=commits_partitions,
    deps=[regression_confirmation],
    pool=MEASURING_POOL,
    group_name="analyze",
    kinds={"python"},
    automation_condition=PER_COMMIT_AUTOMATION,
    description="Where the time went: cProfile, tracemalloc and RSS-over-time profiles of "
                "the regressions the confirmation confirmed, at this commit and the A/B's "
                "base commit, diffed function by function; files under "
                "test-results/raw/profile/, shown by performance_report. A no-op when "
                "nothing was confirmed.",
)
def regression_profile(context: dg.AssetExecutionContext,
                       workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import profile_commit
    from perf_pipeline.report.profile import profile_metadata_markdown

    sha = partition_sha(context)
    try:
        with workspace.open() as ws:
            if (empty := commit_without_suite(ws, sha)) is not None:
                return dg.MaterializeResult(
                    metadata=not_judged_metadata(empty, step="regression_profile"))
            with measuring_turn(context, ws.settings):
                outcome = profile_commit(ws, sha)
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc) from exc
    comparison = outcome.comparison
    if outcome.error is not None:
        context.log.warning(f"commit {sha}: {outcome.error}")
        return dg.MaterializeResult(metadata={
            "status": dg.MetadataValue.text("failed"),
            "error": dg.MetadataValue.text(outcome.error)})
    if comparison is None:
        return dg.MaterializeResult(metadata={
            "status": dg.MetadataValue.text("skipped"),
            "reason": dg.MetadataValue.text(outcome.skipped or "")})
    meta: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text("profiled"),
        "benchmarks": dg.MetadataValue.int(len(comparison.diffs)),
        "base_commit": dg.MetadataValue.text(comparison.base_sha),
        "where_the_time_went": dg.MetadataValue.md(profile_metadata_markdown(comparison)),
        "raw_dir": dg.MetadataValue.path(comparison.raw_dir or ""),
    }
    if outcome.files is not None:
        meta["html_path"] = dg.MetadataValue.path(str(outcome.files.html))
    for i, diff in enumerate(comparison.diffs):
        for label, path in diff.artifacts:
            meta[f"{i}/{label}"] = dg.MetadataValue.path(path)
    return dg.MaterializeResult(metadata=meta)
