"""The commit partitions every per-commit asset shares."""

import dagster as dg

from perf_pipeline.defs.fleet import LOCATION_MACHINE
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.measure import is_full_sha
from perf_pipeline.pipeline.fleet import measuring_pool

#: The name is the storage key of the partitions in the instance: never rename it.
commits_partitions = dg.DynamicPartitionsDefinition(name="commits")

#: Pool of every asset that runs benchmarks; dagster.yaml lets one such run go at a time.
#: ``benchmark_machine``, or ``benchmark_machine/<id>`` in a code location whose environment
#: names its machine (PERF_PIPELINE_MACHINE_ID): one pool per machine of a fleet.
MEASURING_POOL = measuring_pool(LOCATION_MACHINE)


def partition_sha(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """The commit of the run's partition, refused unless a full SHA.

    A key added by hand (the UI's "add partition", ``dagster instance``) may be ``main``,
    ``HEAD`` or a short SHA: measuring it recorded the run under the SHA it resolved to,
    and the next asset of the same partition then found no run of its key ("materialize
    benchmark_results for it first", just done); ``main`` would even name another commit
    tomorrow. ``perf-pipeline register-commit`` resolves refs before adding them.
    """
    key = context.partition_key
    if not is_full_sha(key):
        raise dg.Failure(description=(
            f"partition {key!r} is not a full commit SHA: add commits with "
            "`perf-pipeline register-commit REF...` (it resolves branches, tags and short "
            "SHAs), and delete this partition"))
    return key


def commit_failure(sha: str, exc: PerfPipelineError, *, what: str = "commit") -> dg.Failure:
    """The step's ``Failure`` for ``exc``, naming the commit once.

    Most library messages already start with ``commit <sha>:``; prefixing them again
    showed every failure of a per-commit asset as ``commit X: commit X: ...``.
    """
    message = str(exc)
    return dg.Failure(description=message if sha in message else f"{what} {sha}: {message}")
