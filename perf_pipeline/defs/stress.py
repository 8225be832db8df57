"""The stress suite at a commit: heavier, slower, opt-in (``-m stress``); run nightly.

Same pool as ``benchmark_results``: a stress run must never overlap a measuring run on
the same machine. ``stress_analysis`` is in that pool too: it confirms what its screen
flagged by measuring fresh pairs of runs (``pipeline/stress_confirm``). No automation
condition: the nightly schedule (or a person) asks for them.
"""

from collections.abc import Iterator

import dagster as dg

from perf_pipeline.defs.fleet import measuring_turn
from perf_pipeline.defs.measurement import measure_partition
from perf_pipeline.defs.metadata import not_judged_check, not_judged_metadata
from perf_pipeline.defs.partitions import (
    MEASURING_POOL,
    commit_failure,
    commits_partitions,
    partition_sha,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.pipeline.no_suite import commit_without_suite


@dg.asset(
    partitions_def=commits_partitions,
    pool=MEASURING_POOL,
    group_name="measure",
    kinds={"python", "sqlite"},
    description="Runs the target's stress suite (-m stress, STRESS_MULTIPLIER) at this commit "
                "and records it in the history as suite 'stress' (status no_suite, and "
                "stress_analysis a no-op, when the commit has no stress suite).",
)
def stress_results(
    context: dg.AssetExecutionContext,
    workspace: WorkspaceResource,
) -> Iterator[dg.MaterializeResult]:
    yield from measure_partition(context, workspace, suite="stress")


@dg.asset(
    partitions_def=commits_partitions,
    deps=[stress_results],
    pool=MEASURING_POOL,
    group_name="analyze",
    kinds={"python", "markdown"},
    description="Screens this commit's stress figures against the previous commit's stress "
                "run (throughput down, p99 up, breaking point lower, scaling exponent "
                "higher, a leak appeared), confirms every flag by fresh interleaved pairs "
                "of runs of both commits (confirm=auto), and writes stress-report.md/.html "
                "beside the commit's report. A no-op saying so at a commit without the "
                "stress suite.",
)
def stress_analysis(context: dg.AssetExecutionContext,
                    workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.errors import PerfPipelineError
    from perf_pipeline.pipeline.stress import analyze_stress_commit

    sha = partition_sha(context)
    try:
        with workspace.open() as ws:
            if (empty := commit_without_suite(ws, sha, suite="stress")) is not None:
                return dg.MaterializeResult(
                    metadata=not_judged_metadata(empty, step="stress_analysis"))
            with measuring_turn(context, ws.settings):
                outcome = analyze_stress_commit(ws, sha)
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc) from exc
    if outcome.run_error is not None:  # judged and written; the run itself failed
        raise dg.Failure(
            description=(f"commit {sha}: the stress suite failed "
                         f"({outcome.run_error.strip().splitlines()[0]}); the figures of the "
                         f"tests that finished are judged in {outcome.markdown_path}"),
            metadata={"report": dg.MetadataValue.md(outcome.markdown),
                      "markdown_path": dg.MetadataValue.path(str(outcome.markdown_path))})
    return dg.MaterializeResult(metadata={
        "stress_regressions": len(outcome.regressions),
        "screen_flagged": outcome.screen_flagged,
        "confirmation_pairs": outcome.confirmation_pairs,
        "regressed_figures": [f"{c.scenario}:{c.figure}" for c in outcome.regressions],
        "baseline_run_id": outcome.baseline_run_id or "",
        "report": dg.MetadataValue.md(outcome.markdown),
        "markdown_path": dg.MetadataValue.path(str(outcome.markdown_path)),
        "html_path": dg.MetadataValue.path(str(outcome.html_path)),
        "plots": [str(p) for p in outcome.plots],
    })


@dg.asset_check(
    asset=stress_analysis,
    partitions_def=commits_partitions,
    description="Warns (WARN, non-blocking) when the stress gate found a regression: a "
                "figure the screen flagged and fresh pairs of runs confirmed (with "
                "confirm=off, the screen's flag).",
)
def no_confirmed_stress_regressions(context: dg.AssetCheckExecutionContext,
                                    workspace: WorkspaceResource) -> dg.AssetCheckResult:
    from perf_pipeline.model import Verdict
    from perf_pipeline.pipeline.stress import judge_stress

    sha = context.partition_key
    with workspace.open() as ws:
        if (empty := commit_without_suite(ws, sha, suite="stress")) is not None:
            return not_judged_check(empty, dg.AssetCheckSeverity.WARN)
        judged = judge_stress(ws, sha)
    if judged is None:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description=f"no stress run with figures for {sha}")
    # ``shown``: a flag without its confirmation (stress_analysis failed before it) is
    # no confirmed regression.
    found = [f"{c.scenario}:{c.figure}" for c in judged.shown
             if c.verdict is Verdict.REGRESSION]
    return dg.AssetCheckResult(
        passed=not found, severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(found)} confirmed stress regression(s): {', '.join(found)}"
                     if found else "no confirmed stress regression"),
        metadata={"confirmed": len(found), "figures": found})
