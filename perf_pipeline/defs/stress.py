"""The stress suite at a commit: heavier, slower, opt-in (``-m stress``); run nightly.

Same pool as ``benchmark_results``: a stress run must never overlap a measuring run on
the same machine. No automation condition: the nightly schedule (or a person) asks for it.
"""

import dagster as dg

from perf_pipeline.defs.metadata import run_metadata
from perf_pipeline.defs.partitions import MEASURING_POOL, commits_partitions
from perf_pipeline.defs.resources import HistoryStoreResource, TargetRepoResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.measure import measure_commit
from perf_pipeline.model import RunStatus


@dg.asset(
    partitions_def=commits_partitions,
    pool=MEASURING_POOL,
    group_name="measure",
    kinds={"python", "sqlite"},
    description="Runs the target's stress suite (-m stress, STRESS_MULTIPLIER) at this commit "
                "and records it in the history as suite 'stress'.",
)
def stress_results(
    context: dg.AssetExecutionContext,
    target: TargetRepoResource,
    history: HistoryStoreResource,
) -> dg.MaterializeResult:
    settings = target.settings()
    try:
        with history.open() as store:
            run = measure_commit(settings, context.partition_key, suite="stress", store=store)
    except PerfPipelineError as exc:
        raise dg.Failure(description=f"commit {context.partition_key}: {exc}") from exc
    if run.status is RunStatus.FAILED:
        raise dg.Failure(
            description=f"stress suite failed at {context.partition_key}: {run.error}",
            metadata={"run_id": run.run_id, "raw_path": dg.MetadataValue.path(run.raw_path or "")},
        )
    return dg.MaterializeResult(metadata=run_metadata(run))
