"""Why is it slower: profile a commit's regressed benchmarks against its baseline commit.

``regression_profile`` runs benchmarks (in untimed processes, but on the benchmark
machine all the same), so it is in the measuring pool. With no regression it is a cheap
no-op whose metadata says so. It depends on ``regression_analysis``, whose file names the
regressed benchmarks and the baseline's commits. Caveat while that asset carries the
blocking gate: a failing gate skips its downstream assets in the same run, so in one
``dagster asset materialize`` with a regression this asset is skipped; materialize it in
a run of its own (or after the gate moves to a later asset).
"""

import dagster as dg

from perf_pipeline.defs.analysis import PER_COMMIT_AUTOMATION, regression_analysis
from perf_pipeline.defs.partitions import MEASURING_POOL, commits_partitions
from perf_pipeline.defs.resources import TargetRepoResource
from perf_pipeline.errors import PerfPipelineError


@dg.asset(
    partitions_def=commits_partitions,
    deps=[regression_analysis],
    pool=MEASURING_POOL,
    group_name="analyze",
    kinds={"python"},
    automation_condition=PER_COMMIT_AUTOMATION,
    description="Where the time went: cProfile, tracemalloc and RSS-over-time profiles of "
                "the regressed benchmarks at this commit and its baseline commit, diffed "
                "function by function; files under test-results/raw/profile/. A no-op "
                "when nothing regressed.",
)
def regression_profile(context: dg.AssetExecutionContext,
                       target: TargetRepoResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import profile_commit
    from perf_pipeline.report.profile import profile_metadata_markdown

    try:
        outcome = profile_commit(target.settings(), context.partition_key)
    except PerfPipelineError as exc:
        raise dg.Failure(description=f"commit {context.partition_key}: {exc}") from exc
    comparison = outcome.comparison
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
