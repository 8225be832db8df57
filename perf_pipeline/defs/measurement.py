"""Assets that run benchmark suites at a commit.

A commit without the suite (``RunStatus.NO_SUITE``: it predates the benchmarks) is no
failure, and has no numbers either. Its partition is materialized all the same, with
metadata saying so (``status: no_suite``, the reason, the history's run id): left
missing, as it once was, the UI showed it as never done for ever and every "materialize
missing" backfill asked for it again. The steps after it (screen, confirmation,
profile, report, stress analysis) see the commit has no suite
(``pipeline.commit_without_suite``) and materialize as cheap no-ops that say they
judged nothing; their checks pass saying the same. The baseline is built from
successful runs only, so such a commit is never part of it.

A commit the history already records without the suite (``measure.known_without_suite``)
is not measured again: the step materializes that record (``measured_again: false``)
without a worktree, an environment or pytest. A run tagged
``perf_pipeline/remeasure=true`` (``REMEASURE_TAG``: the UI's launch dialogs take tags;
``perf-pipeline backfill --force`` sets it) measures it all the same, e.g. after the
suite's paths were fixed.
"""

from collections.abc import Iterator

import dagster as dg

from perf_pipeline.defs.fleet import claim_machine, measuring_turn
from perf_pipeline.defs.metadata import no_suite_metadata, run_metadata
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
    description="Runs the target's pytest-benchmark suite at this commit and records it "
                "(status no_suite, and the later steps no-ops, when the commit has no "
                "suite).",
)
def benchmark_results(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
) -> Iterator[dg.MaterializeResult]:
    yield from measure_partition(context, workspace, suite="benchmarks")


def measure_partition(context: dg.AssetExecutionContext, workspace: WorkspaceResource, *,
                      suite: str) -> Iterator[dg.MaterializeResult]:
    """Measure the partition's commit; shared by every measuring asset. Yields one
    materialization, whose status is ``no_suite`` when the commit has no such suite."""
    sha = partition_sha(context)
    figures = 0
    try:
        with workspace.open() as ws:
            here = claim_machine(context, ws.settings)
            if (known := _known(context, ws, sha, suite, here)) is not None:
                yield _known_no_suite(context, sha, known)
                return
            with measuring_turn(context, ws.settings):
                # Asked again once the turn is ours: a step that waited for it behind
                # one measuring this commit found the record that one left.
                if (known := _known(context, ws, sha, suite, here)) is not None:
                    yield _known_no_suite(context, sha, known)
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
        yield dg.MaterializeResult(metadata=no_suite_metadata(run, measured_again=True))
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


def _known_no_suite(context: dg.AssetExecutionContext, sha: str,
                    known: RunInfo) -> dg.MaterializeResult:
    """The partition's materialization from the history's record of the commit without
    the suite (``measured_again: false``)."""
    context.log.info(f"not measured again: run {known.run_id} found no {known.suite} suite "
                     f"at {sha} ({known.error}); tag the run {REMEASURE_TAG}=true to "
                     "measure it anyway")
    return dg.MaterializeResult(metadata=no_suite_metadata(known, measured_again=False))
