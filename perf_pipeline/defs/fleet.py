"""The Dagster side of fleet routing (names and rules: ``perf_pipeline.pipeline.fleet``).

``claim_machine`` is the first thing every measuring step does: it refuses a run tagged
for another machine, and tags a run launched without a machine (``dagster asset
materialize``, a UI launch) with the machine that measures it, so every measuring run in
the instance names its machine. Sensors, schedules and backfills tag their runs before
they are queued (``run_machine_tags``), which is what the run queue's per-machine tag
limit (fleet/dagster.yaml) acts on.
"""

from __future__ import annotations

import dagster as dg

from perf_pipeline.config import Settings
from perf_pipeline.measure import local_machine_id
from perf_pipeline.pipeline.fleet import check_run_machine, machine_tags, tagged_machine


def run_machine_tags(settings: Settings) -> dict[str, str]:
    """The tags of a run this location launches: its machine, as the store names it."""
    return machine_tags(local_machine_id(settings))


def claim_machine(context: dg.AssetExecutionContext, settings: Settings) -> str:
    """This machine's id, after checking the run is for it (``WrongMachineError``
    otherwise) and tagging it if it was launched untagged."""
    here = local_machine_id(settings)
    try:
        run = context.run
    except dg.DagsterError:  # invoked directly (a unit test): no run to check or tag
        return here
    check_run_machine(run.tags, here)
    if tagged_machine(run.tags) is None:
        context.instance.add_run_tags(run.run_id, machine_tags(here))
    return here
