"""The commit partitions every per-commit asset shares."""

import dagster as dg

#: The name is the storage key of the partitions in the instance: never rename it.
commits_partitions = dg.DynamicPartitionsDefinition(name="commits")

#: Pool of every asset that runs benchmarks; dagster.yaml lets one such run go at a time.
MEASURING_POOL = "benchmark_machine"
