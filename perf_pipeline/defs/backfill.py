"""Backfill from the CLI: measure the last N commits of a branch, oldest first, once each.

``dagster asset materialize --partition-range`` needs a single-run backfill policy, which
per-commit measuring cannot use; and a UI backfill goes through the daemon. This runs the
same assets in this process, one commit after the other (so measurements never overlap),
skipping commits whose ``benchmark_results`` partition is already materialized (those
whose judging was cut short are judged and reported, not measured again), and
commits found to have no benchmark suite (``RunStatus.NO_SUITE``: from before the suite
existed), which measuring again would only find again, at the price of an environment
set up each time. ``force`` measures both again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import dagster as dg

from perf_pipeline.defs.automation import COMMIT_ASSETS
from perf_pipeline.defs.fleet import asset_key
from perf_pipeline.defs.launch import CommitMaterialization, materialize_commit, register_commits
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.measure import local_machine_id, new_commits, newest_no_suite_runs
from perf_pipeline.model import RunStatus
from perf_pipeline.workspace import Workspace

__all__ = ["BackfillOutcome", "backfill_branch"]


@dataclass(frozen=True, slots=True)
class BackfillOutcome:
    """The commits considered (oldest first), which were run now and which skipped.

    ``measured`` holds every commit run now, in order, those only judged included (their
    verdict lines are the same); ``judged_only`` says which of them were not measured
    again, so a summary that counts measurements does not count them."""

    shas: tuple[str, ...]
    measured: tuple[CommitMaterialization, ...]
    skipped: tuple[str, ...]
    #: Commits with no benchmark suite (skipped, or found so now): neither measured
    #: results nor failures.
    no_suite: tuple[str, ...] = ()
    #: Commits measured before whose judging was cut short (``unfinished_here``): run
    #: now from the baseline on (judged and reported), not measured again.
    judged_only: tuple[str, ...] = ()

    @property
    def measured_now(self) -> tuple[str, ...]:
        """Commits whose suite was run now: ``measured`` less those only judged and those
        found to have no suite (nothing of theirs was measured)."""
        return tuple(m.sha for m in self.measured
                     if m.sha not in self.judged_only and m.sha not in self.no_suite)

    @property
    def regressed(self) -> tuple[str, ...]:
        """Commits whose regression gate failed (their reports were still written)."""
        return tuple(m.sha for m in self.measured if m.failed_checks)

    @property
    def broken(self) -> tuple[str, ...]:
        """Commits whose run failed for another reason (suite crashed, bad commit)."""
        return tuple(m.sha for m in self.measured if not m.success and not m.failed_checks)

    @property
    def tip_without_suite(self) -> bool:
        """The newest commit has no suite either: the settings name no suite at all
        (wrong ``benchmark_paths`` or ``project_subdir``), or the project has none yet.
        Nothing of the branch can be measured: an error, not a backfill that passed."""
        return bool(self.shas) and self.shas[-1] in self.no_suite

    @property
    def skipped_no_suite(self) -> tuple[str, ...]:
        """Skipped commits that were skipped for having no suite (not measured ones)."""
        return tuple(s for s in self.skipped if s in self.no_suite)


def backfill_branch(
    *,
    instance: dg.DagsterInstance,
    ws: Workspace,
    last: int,
    branch: str | None = None,
    force: bool = False,
    on_commit: Callable[[CommitMaterialization], None] | None = None,
    on_plan: Callable[[tuple[str, ...]], None] | None = None,
    log_level: str = "CRITICAL",
) -> BackfillOutcome:
    """Measure, judge and report the last ``last`` commits of ``branch`` (default: main).

    Each commit gets one run of the per-commit assets (measure → baseline → screen →
    confirmation → report), in history order; a failed commit (a regression gate, a
    broken suite) does not stop the ones after it. ``force`` re-measures commits
    already materialized. ``on_plan`` gets the commits about to be measured (for a
    progress display), ``on_commit`` each one's outcome as soon as it is done. The runs
    work in a Workspace of ``ws``'s settings. Dagster's console log is off unless
    ``log_level`` says otherwise: a failed commit logged its step failure (the suite's
    output tail and a stack trace) and the run failure (the same again) on stderr,
    beside the commit's own line; the runs' event logs keep them.
    """
    settings = ws.settings
    shas = new_commits(settings.repo_path, branch or settings.main_branch, max_count=last)
    register_commits(instance, shas)
    no_suite = no_suite_here(ws)
    unjudged = set() if force else unfinished_here(instance, ws)
    done = set() if force else (measured_here(instance, ws) - unjudged) | set(no_suite)
    workspace = WorkspaceResource.of(settings)
    measured: list[CommitMaterialization] = []
    if on_plan is not None:
        on_plan(tuple(s for s in shas if s not in done))
    for sha in shas:
        if sha in done:
            continue
        selection = COMMIT_ASSETS[1:] if sha in unjudged else COMMIT_ASSETS
        outcome = materialize_commit(instance=instance, sha=sha, selection=selection,
                                     workspace=workspace, log_level=log_level,
                                     remeasure=force)
        if outcome.success:
            no_suite = no_suite_here(ws)
            if sha in no_suite:
                outcome = replace(outcome, no_suite=no_suite[sha])
        measured.append(outcome)
        if on_commit is not None:
            on_commit(outcome)
    return BackfillOutcome(shas=shas, measured=tuple(measured),
                           skipped=tuple(s for s in shas if s in done),
                           no_suite=tuple(s for s in shas if s in no_suite),
                           judged_only=tuple(m.sha for m in measured if m.sha in unjudged))


def measured_here(instance: dg.DagsterInstance, ws: Workspace) -> set[str]:
    """Commits whose ``benchmark_results`` partition is materialized *by this machine*.

    The instance may be a fleet's (docs/deployment.md): a partition another machine
    materialized still needs a measurement here, so the history's successful runs of
    this machine decide, intersected with the instance's materializations (on one
    machine: exactly the materialized partitions, as before).
    """
    materialized = instance.get_materialized_partitions(asset_key("benchmark_results"))
    here = local_machine_id(ws.settings)
    runs = ws.store.list_runs(suite="benchmarks", status=RunStatus.SUCCESS, machine_id=here)
    return materialized & {r.commit.sha for r in runs if r.commit is not None}


def unfinished_here(instance: dg.DagsterInstance, ws: Workspace) -> set[str]:
    """Measured commits whose judging began and never ended: a run planned
    ``regression_analysis`` for them, and ``performance_report`` is not materialized. A
    backfill stopped by a signal in the confirmation's A/B left such a commit, and so did
    a run whose judging failed after its measuring (the screen or the baseline raised):
    counted as measured, they were skipped by every later backfill and never got a
    confirmation, a report or a gate; they are judged and reported now, without measuring
    them again. A culprit search's probes are never planned to reach the screen, and a
    failed gate still writes its report first, so neither is one of these."""
    planned = instance.get_latest_storage_id_by_partition(
        asset_key("regression_analysis"), dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    reported = instance.get_materialized_partitions(asset_key("performance_report"))
    return (set(planned) - reported) & measured_here(instance, ws)


def no_suite_here(ws: Workspace) -> dict[str, str]:
    """Commits whose newest benchmark run of this machine found no suite there, with
    the reason. A commit measured since (``--force`` after the suite's paths were fixed)
    is not one."""
    runs = newest_no_suite_runs(ws.store, suite="benchmarks",
                                machine_id=local_machine_id(ws.settings))
    return {sha: run.error or "no suite at this commit" for sha, run in runs.items()}
