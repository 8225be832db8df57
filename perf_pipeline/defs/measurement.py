"""Assets that run benchmark suites at a commit.

A commit without the suite (``RunStatus.NO_SUITE``: it predates the benchmarks) is no
failure, and has no numbers either: the asset then materializes nothing (it is optional,
``output_required=False``), so the run succeeds and the steps after it (baseline, screen,
report) are skipped rather than judging a commit that has nothing to judge.

Such a partition stays missing, so every "materialize missing" backfill of the UI asks
for it again. A commit the history already records without the suite
(``measure.known_without_suite``) is therefore not measured again: the step says why in
an observation of the asset and ends, without a worktree, an environment or pytest. A
run tagged ``perf_pipeline/remeasure=true`` (``REMEASURE_TAG``: the UI's launch dialogs
take tags; ``perf-pipeline backfill --force`` sets it) measures it all the same, e.g.
after the suite's paths were fixed.
"""

from collections.abc import Iterator

import dagster as dg

from perf_pipeline.defs.fleet import claim_machine, measuring_turn
from perf_pipeline.defs.metadata import run_metadata
from perf_pipeline.defs.partitions import (
    MEASURING_POOL,
    commit_failure,
    commits_partitions,
    partition_sha,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.measure import known_without_suite, measure_commit
from perf_pipeline.model import RunInfo, RunStatus
from perf_pipeline.workspace import Workspace

#: A run tag that makes the measuring assets measure a commit recorded without the
#: suite again (value ``true``).
REMEASURE_TAG = "perf_pipeline/remeasure"


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
        with workspace.open() as ws:
            here = claim_machine(context, ws.settings)
            if (known := _known(context, ws, sha, suite, here)) is not None:
                _observe_no_suite(context, sha, known)
                return
            with measuring_turn(context, ws.settings):
                # Asked again once the turn is ours: a step that waited for it behind
                # one measuring this commit found the record that one left.
                if (known := _known(context, ws, sha, suite, here)) is not None:
                    _observe_no_suite(context, sha, known)
                    return
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


def _known(context: dg.AssetExecutionContext, ws: Workspace, sha: str, suite: str,
           machine_id: str) -> RunInfo | None:
    """The run that found no ``suite`` at ``sha`` here, unless the run asks to measure
    it again (``known_without_suite``)."""
    if _remeasure_asked(context):
        return None
    return known_without_suite(ws.settings.repo_path, sha, suite, ws.store,
                               machine_id=machine_id)


def _remeasure_asked(context: dg.AssetExecutionContext) -> bool:
    try:
        return context.run.tags.get(REMEASURE_TAG, "").strip().lower() == "true"
    except dg.DagsterError:  # invoked directly (a unit test): no run, no tags
        return False


def _observe_no_suite(context: dg.AssetExecutionContext, sha: str, known: RunInfo) -> None:
    """Say in the asset's history why this partition stays unmaterialized (an
    observation is no materialization: nothing downstream runs)."""
    context.log.info(f"not measured again: run {known.run_id} found no {known.suite} suite "
                     f"at {sha} ({known.error}); tag the run {REMEASURE_TAG}=true to "
                     "measure it anyway")
    context.log_event(dg.AssetObservation(
        asset_key=context.asset_key, partition=sha,
        metadata={"status": dg.MetadataValue.text(str(RunStatus.NO_SUITE)),
                  "reason": dg.MetadataValue.text(known.error or "no suite at this commit"),
                  "run_id": dg.MetadataValue.text(known.run_id),
                  "measured_again": dg.MetadataValue.bool(False),
                  "remeasure": dg.MetadataValue.text(f"run tag {REMEASURE_TAG}=true")}))
