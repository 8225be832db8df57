"""The stress suite at a commit: heavier, slower, opt-in (``-m stress``); run nightly.

Same pool as ``benchmark_results``: a stress run must never overlap a measuring run on
the same machine. No automation condition: the nightly schedule (or a person) asks for it.
"""

import dagster as dg

from perf_pipeline.defs.measurement import measure_partition
from perf_pipeline.defs.partitions import MEASURING_POOL, commits_partitions
from perf_pipeline.defs.resources import WorkspaceResource


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
    workspace: WorkspaceResource,
) -> dg.MaterializeResult:
    return measure_partition(context, workspace, suite="stress")
