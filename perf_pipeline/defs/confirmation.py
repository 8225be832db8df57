"""The gate's second stage: confirm the screen's flags by an interleaved A/B; the gate.

Graph shape (see dagster-notes, "asset checks and exit codes"):

    regression_analysis ─► regression_confirmation ─► regression_profile ─► performance_report
      └ no_significant_regressions (WARN)                          no_confirmed_regressions ┘
                                                                                   (ERROR)

(``regression_profile``, defs/profile.py, profiles only what the confirmation confirmed;
the report also depends on the confirmation directly.)

A blocking check that fails skips everything downstream of the asset it checks, and the
report is needed most exactly when the gate fails; the report also has to show the
confirmation, so it must run after it. The blocking ERROR check therefore judges the
confirmation's result but is attached to the *last* asset of a commit, the report: the
report is written first, then the check fails the run (``dagster asset materialize``
exits 1). Nothing is downstream of the report.

``regression_confirmation`` measures (an A/B of the baseline's commit against this one),
so it is in the measuring pool. When the screen flagged nothing it is a cheap no-op that
still writes its file (the verdict), with metadata saying no A/B ran. At a commit
without the suite it writes nothing (there is no verdict to write) and says so, without
waiting for the measuring machine; the gate passes, saying it judged nothing.
"""

import dagster as dg

from perf_pipeline.defs.analysis import PER_COMMIT_AUTOMATION, regression_analysis
from perf_pipeline.defs.fleet import measuring_turn
from perf_pipeline.defs.metadata import (
    confirmation_labels,
    confirmation_metadata,
    not_judged_check,
    not_judged_metadata,
)
from perf_pipeline.defs.partitions import (
    MEASURING_POOL,
    commit_failure,
    commits_partitions,
    partition_sha,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.model import Confirmation
from perf_pipeline.pipeline.no_suite import commit_without_suite


@dg.asset(
    partitions_def=commits_partitions,
    deps=[regression_analysis],
    pool=MEASURING_POOL,
    group_name="analyze",
    kinds={"python"},
    automation_condition=PER_COMMIT_AUTOMATION,
    description="Confirms every regression the screen flagged by a sequential interleaved "
                "A/B of the baseline's commit (a PR: the merge base) against this one, "
                "flagged benchmarks plus a few controls only; a no-op when nothing was "
                "flagged. Writes test-results/confirmation/<sha>.json: the final verdict.",
)
def regression_confirmation(context: dg.AssetExecutionContext,
                            workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline import confirm_commit

    sha = partition_sha(context)
    try:
        with workspace.open() as ws:
            if (empty := commit_without_suite(ws, sha)) is not None:
                return dg.MaterializeResult(
                    metadata=not_judged_metadata(empty, step="regression_confirmation"))
            with measuring_turn(context, ws.settings):
                confirmation = confirm_commit(ws, sha)
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc) from exc
    return dg.MaterializeResult(metadata=confirmation_metadata(confirmation))


@dg.asset_check(
    asset="performance_report",
    name="no_confirmed_regressions",
    blocking=True,
    partitions_def=commits_partitions,
    additional_deps=[regression_confirmation],
    description="The regression gate (ERROR): fails when the confirmation (or, with "
                "confirm=off, the stored-baseline comparison) found a significant "
                "regression. On the report so that the report is written first.",
)
def no_confirmed_regressions(context: dg.AssetCheckExecutionContext,
                             workspace: WorkspaceResource) -> dg.AssetCheckResult:
    from perf_pipeline.pipeline import read_commit_analysis, read_commit_confirmation

    sha = context.partition_key
    with workspace.open() as ws:
        if (empty := commit_without_suite(ws, sha)) is not None:
            return not_judged_check(empty, dg.AssetCheckSeverity.ERROR)
        analysis = read_commit_analysis(ws, sha)
        confirmation = read_commit_confirmation(
            ws, sha, run_id=analysis.run_id if analysis else None)
    return gate_check_result(sha, confirmation)


def gate_check_result(sha: str, confirmation: Confirmation | None) -> dg.AssetCheckResult:
    """The gate's verdict on a commit's confirmation (``None``: none for its analysis)."""
    if confirmation is None:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR,
            description=f"no confirmation of the latest analysis of {sha}: materialize "
                        "regression_analysis and regression_confirmation")
    regressions = confirmation.regressions
    undecided = confirmation.undecided
    labels = confirmation_labels(confirmation)
    if regressions:
        description = f"{len(regressions)} confirmed regression(s): " + ", ".join(
            f"{labels[r.name]} ({r.metric}) x{r.comparison.ratio:.2f}"
            for r in regressions)
    else:
        description = "no confirmed regression"
    if undecided:
        # Inconclusive is not a regression, so it does not fail the gate; but a flag the
        # A/B ran out of rounds or budget on is not "unchanged" either: say so.
        description += (
            f"; {len(undecided)} flagged benchmark(s) left inconclusive after "
            f"{confirmation.rounds_used} round(s) (stopped: {confirmation.stopped or '?'}): "
            + ", ".join(labels[n] for n in undecided))
    return dg.AssetCheckResult(
        passed=not regressions,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"regressions": len(regressions), "status": confirmation.status,
                  "rounds_used": confirmation.rounds_used, "undecided": len(undecided),
                  "stopped": confirmation.stopped or "–"},
    )
