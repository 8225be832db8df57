"""Baseline and the per-commit screen: the first stage of the regression gate.

``regression_analysis`` compares the commit's run with the stored baseline at the
screen's level (``pipeline.screen_alpha``: loose when a confirmation follows). Its check
``no_significant_regressions`` only warns (WARN, non-blocking): the screen is sensitive,
not trusted alone. The blocking gate judges the confirmation (``defs/confirmation.py``).

``perf_pipeline.pipeline`` (scipy, matplotlib, plotly) is imported inside the asset
bodies: Dagster imports every module of ``defs/`` to load the code location, and a
measuring run, the sensor and ``dagster dev`` need none of it (about 3 s per process).
"""

import dagster as dg

from perf_pipeline.defs.fleet import asset_selection
from perf_pipeline.defs.measurement import benchmark_results
from perf_pipeline.defs.metadata import (
    analysis_metadata,
    not_judged_check,
    not_judged_metadata,
    short_benchmark_names,
)
from perf_pipeline.defs.partitions import commit_failure, commits_partitions, partition_sha
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.model import CommitAnalysis
from perf_pipeline.pipeline.no_suite import commit_without_suite

#: The run tag that says who launched a run, and its value on a culprit search's runs.
TRIGGER_TAG = "perf_pipeline/trigger"
CULPRIT_SEARCH_TRIGGER = "culprit_search"

#: Per-commit assets recompute when their commit is re-measured, not when the
#: (unpartitioned) baseline moves: that would re-request every commit ever measured.
#: Nor when a culprit search measured the commit as a probe: a probe's commit is an old
#: one between a good and a bad commit, and judging it against today's baseline
#: requested a screen, an A/B confirmation (up to ``confirm_budget_s`` of the measuring
#: pool), a profile and a report for each probe, between the search's steps. A probe's
#: measurement counts as the commit's update handled: it also ends the wait a partition
#: the search added started ("newly missing"). (``executed_with_tags`` cannot say it:
#: for a partitioned asset it looks only at the asset's latest materialization.)
_PROBE_MEASURED = dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.all_new_updates_have_run_tags(
        tag_values={TRIGGER_TAG: CULPRIT_SEARCH_TRIGGER})).with_label(
            "measured by a culprit search's probe")
PER_COMMIT_AUTOMATION = (
    dg.AutomationCondition.eager()
    .replace("handled", (dg.AutomationCondition.newly_requested()
                         | dg.AutomationCondition.newly_updated()
                         | dg.AutomationCondition.initial_evaluation()
                         | _PROBE_MEASURED).with_label("handled"))
    .ignore(asset_selection("performance_baseline"))
).with_label("eager, except after a culprit search's probe")

#: The whole-history assets (baseline, history report) recompute when any commit is
#: measured. Plain eager also waits until no dependency is missing, and for an
#: unpartitioned asset that means every commit partition: one registered commit never
#: measured (a suite that failed, a commit registered for a later backfill) stopped them
#: for good. Here they wait only until something was measured at all.
HISTORY_AUTOMATION = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    # A measured commit, not merely a baseline someone materialized by hand.
    & dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing()).allow(
        asset_selection("benchmark_results"))
).with_label("eager, allowing unmeasured commits")


@dg.asset(
    deps=[benchmark_results],
    group_name="analyze",
    kinds={"python"},
    automation_condition=HISTORY_AUTOMATION,
    description="Baseline from history (rolling: last N main-branch runs; or pinned), "
                "written to test-results/baseline/performance_baseline.json.",
)
def performance_baseline(workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import update_baseline

    try:
        with workspace.open() as ws:
            baseline = update_baseline(ws)
    except PerfPipelineError as exc:
        raise dg.Failure(description=f"baseline: {exc}") from exc
    if baseline is None:
        return dg.MaterializeResult(metadata={"status": "no successful run yet"})
    return dg.MaterializeResult(metadata={
        "policy": baseline.policy,
        "source_runs": len(baseline.source_run_ids),
        "source_commits": dg.MetadataValue.text(", ".join(c[:10] for c in baseline.source_commits)),
        "benchmarks": len({e.name for e in baseline.entries}),
        "path": dg.MetadataValue.path(str(ws.layout.baseline_path)),
    })


@dg.asset(
    partitions_def=commits_partitions,
    deps=[benchmark_results, performance_baseline],
    group_name="analyze",
    kinds={"python"},
    automation_condition=PER_COMMIT_AUTOMATION,
    description="The screen: this commit's run judged against its baseline (ratio "
                "threshold AND a run-level statistical test). With confirm=auto it is the "
                "first stage (SCREEN_ALPHA, uncorrected: the confirmation controls the "
                "family-wise level); with confirm=off the gate (alpha, Holm across the "
                "suite). A no-op saying so at a commit without the suite.",
)
def regression_analysis(context: dg.AssetExecutionContext,
                        workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import analyze_commit

    sha = partition_sha(context)
    try:
        with workspace.open() as ws:
            if (empty := commit_without_suite(ws, sha)) is not None:
                return dg.MaterializeResult(
                    metadata=not_judged_metadata(empty, step="regression_analysis"))
            analysis = analyze_commit(ws, sha)
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc) from exc
    return dg.MaterializeResult(metadata=analysis_metadata(analysis))


@dg.asset_check(
    asset=regression_analysis,
    partitions_def=commits_partitions,
    description="Warns (WARN, non-blocking) when the screen flagged a regression; "
                "regression_confirmation decides.",
)
def no_significant_regressions(context: dg.AssetCheckExecutionContext,
                               workspace: WorkspaceResource) -> dg.AssetCheckResult:
    from perf_pipeline.pipeline import read_commit_analysis

    sha = context.partition_key
    with workspace.open() as ws:
        if (empty := commit_without_suite(ws, sha)) is not None:
            return not_judged_check(empty, dg.AssetCheckSeverity.WARN)
        analysis = read_commit_analysis(ws, sha)
    return screen_check_result(sha, analysis)


def screen_check_result(sha: str, analysis: CommitAnalysis | None) -> dg.AssetCheckResult:
    """The screen's WARN on a commit's analysis (``None``: there is none)."""
    if analysis is None:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description=f"no regression analysis for {sha}")
    if analysis.comparison is None:
        # Nothing was compared. With no baseline yet that is expected (a first run seeds
        # it), and so is the first run on a machine id's new hardware, which starts a
        # rolling baseline of its own; a baseline that could not be used (another
        # machine's, or a pin of the old hardware: a person must re-pin) warns.
        why = " ".join(analysis.notes) or "no baseline"
        expected = not analysis.baseline_run_ids or (
            analysis.not_judged == "other_hardware" and analysis.baseline_policy == "rolling")
        return dg.AssetCheckResult(
            passed=expected, severity=dg.AssetCheckSeverity.WARN,
            description=f"not screened: {why}", metadata={"flagged": 0, "screened": False})
    regressions = analysis.comparison.regressions
    labels = short_benchmark_names(r.name for r in analysis.comparison.results)
    return dg.AssetCheckResult(
        passed=not regressions,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"screen (alpha {analysis.alpha:g}) flagged {len(regressions)}: " + ", ".join(
            f"{labels[r.name]} ({r.metric}) x{r.comparison.ratio:.2f}"
            for r in regressions)) if regressions else "the screen flagged nothing",
        metadata={"flagged": len(regressions), "alpha": analysis.alpha},
    )
