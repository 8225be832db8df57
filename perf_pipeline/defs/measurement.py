"""Assets that run benchmark suites at a commit.

A commit without the suite (``RunStatus.NO_SUITE``: it predates the benchmarks) is no
failure, and has no numbers either: the asset then materializes nothing (it is optional,
``output_required=False``), so the run succeeds and the steps after it (baseline, screen,
report) are skipped rather than judging a commit that has nothing to judge.
"""

from collections.abc import Iterator

import dagster as dg

from perf_pipeline.defs.fleet import measuring_turn
from perf_pipeline.defs.metadata import run_metadata
from perf_pipeline.defs.partitions import (
    MEASURING_POOL,
    commit_failure,
    commits_partitions,
    partition_sha,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.measure import measure_commit
from perf_pipeline.model import RunStatus


@dg.asset(
    partitions_def=commits_partitions,
    pool=MEASURING_POOL,
    group_name="measure",
    kinds={"python", "sqlite"},
    output_required=False,
    description="Runs the target's pytest-benchmark suite at this commit and records it "
                "(nothing, and the later steps skipped, when the commit has no suite).",
)
def benchmark_results(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
) -> Iterator[dg.MaterializeResult]:
    yield from measure_partition(context, workspace, suite="benchmarks")


def measure_partition(context: dg.AssetExecutionContext, workspace: WorkspaceResource, *,
                      suite: str) -> Iterator[dg.MaterializeResult]:
    """Measure the partition's commit; shared by every measuring asset. Yields nothing
    when the commit has no such suite."""
    sha = partition_sha(context)
    figures = 0
    try:
        with workspace.open() as ws, measuring_turn(context, ws.settings):
            run = measure_commit(ws.settings, sha, suite=suite, store=ws.store)
            if suite == "stress" and run.status is RunStatus.FAILED:
                figures = len(ws.store.stress_figures(run.run_id))
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc) from exc
    if run.status is RunStatus.FAILED and figures:
        # A stress test that fails its own assertion (no leak, no errors under load) has
        # measured what it asserts on: the figures of the tests that finished are a
        # result. stress_analysis judges them, writes the report, then fails the run.
        meta = run_metadata(run)
        meta["stress_figures"] = dg.MetadataValue.int(figures)
        meta["failure"] = dg.MetadataValue.text((run.error or "").strip()[:2000])
        context.log.warning(f"stress suite failed at {sha}; its {figures} figure(s) are "
                            "recorded for stress_analysis, which fails after its report")
        yield dg.MaterializeResult(metadata=meta)
        return
    if run.status is RunStatus.NO_SUITE:
        context.log.info(f"{run.error} (run {run.run_id}); nothing to judge at {sha}")
        return
    if run.status is RunStatus.FAILED:
        # The failed run is recorded in the history (with its error output); the asset
        # fails so that nothing downstream treats missing numbers as a result.
        raise dg.Failure(
            description=f"{suite} suite failed at {sha}: {run.error}",
            metadata={"run_id": run.run_id, "raw_path": dg.MetadataValue.path(run.raw_path or "")},
        )
    yield dg.MaterializeResult(metadata=run_metadata(run))
