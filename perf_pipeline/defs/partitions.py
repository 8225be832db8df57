"""The commit partitions every per-commit asset shares."""

import dagster as dg

from perf_pipeline.defs.fleet import LOCATION_MACHINE
from perf_pipeline.pipeline.fleet import measuring_pool

#: The name is the storage key of the partitions in the instance: never rename it.
commits_partitions = dg.DynamicPartitionsDefinition(name="commits")

#: Pool of every asset that runs benchmarks; dagster.yaml lets one such run go at a time.
#: ``benchmark_machine``, or ``benchmark_machine/<id>`` in a code location whose environment
#: names its machine (PERF_PIPELINE_MACHINE_ID): one pool per machine of a fleet.
MEASURING_POOL = measuring_pool(LOCATION_MACHINE)
