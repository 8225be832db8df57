"""Automation: the commit sensor, the nightly schedule and the automation-condition sensor.

``new_commits_sensor`` (every 30 s) turns new commits on the watched branches into
``commits`` partitions and runs, oldest first, at most ``max_runs_per_tick`` per tick; its
cursor is JSON ``{branch: last requested sha}`` of the watched branches only and advances
only over what it requested. Its first tick of a branch (no cursor: a new instance, a
branch newly watched or watched again) requests the branch tip only: history is measured
by explicit backfills, never by accident. A force-push (cursor no longer on the branch)
skips one tick and resumes from the merge base, or from the new tip when there is none
close by.

All three start RUNNING, so ``dagster dev`` measures new commits out of the box. Git is
read only through ``perf_pipeline.measure.git`` (a few cheap commands per branch).
"""

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from perf_pipeline.config import Settings, load_settings
from perf_pipeline.defs.fleet import asset_key, asset_selection
from perf_pipeline.defs.launch import check_relative_storage, register_commits
from perf_pipeline.defs.partitions import MEASURING_POOL, commits_partitions
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.defs.run_owner import fail_orphaned_runs
from perf_pipeline.errors import InvalidInputError, PerfPipelineError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.measure.git import (
    branch_tip,
    commits_since,
    is_ancestor,
    is_full_sha,
    merge_base,
)
from perf_pipeline.pipeline.fleet import machine_tags

logger = logging.getLogger(__name__)

#: What one commit's run materializes, in dependency order: measure, baseline, screen,
#: confirm (an A/B only when the screen flagged something), profile (only what the
#: confirmation confirmed), report (with the gate). Asset names: ``defs.fleet.asset_key``
#: gives this location's keys (prefixed by the machine in a fleet).
COMMIT_ASSETS = ("benchmark_results", "performance_baseline", "regression_analysis",
                 "regression_confirmation", "regression_profile", "performance_report")
#: The nightly run adds the (slow) stress suite.
#: The stress suite and its analysis: nightly, and per commit with ``stress_per_commit``.
STRESS_ASSETS = ("stress_results", "stress_analysis")
NIGHTLY_ASSETS = (*COMMIT_ASSETS, *STRESS_ASSETS)
#: After a force-push, at most this many rewritten commits (merge base → new tip) are
#: measured; a longer rewrite resumes from the new tip instead of flooding the queue.
FORCE_PUSH_MAX_BACKLOG = 50

@dataclass(frozen=True, slots=True)
class BranchPlan:
    """What one watched branch contributes to a tick.

    ``pending``: commits to request, oldest first (the tick takes what its budget allows).
    ``cursor``: the branch's cursor when nothing is requested (None drops it, so the next
    tick starts from the tip). ``note``: why the branch was skipped, for the tick log.
    """

    branch: str
    pending: tuple[str, ...]
    cursor: str | None
    note: str | None = None


def _read_cursor(raw: str | None) -> dict[str, str]:
    """The cursor JSON as ``{branch: sha}``; an unreadable one counts as no cursor."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        logger.warning("ignoring unreadable sensor cursor %r", raw[:200])
        return {}
    if not isinstance(data, dict):
        return {}
    # A full SHA of either object format: keeping only 40-char ones dropped every cursor
    # of a SHA-256 repository, so each tick restarted from the tip and all but the last
    # commit of every push went unmeasured.
    return {k: v for k, v in data.items() if isinstance(k, str) and is_full_sha(v)}


def watched_branches(settings: Settings) -> tuple[str, ...]:
    """The branches the sensor watches: ``watch_branches``, else the main branch."""
    return tuple(dict.fromkeys(settings.watch_branches or (settings.main_branch,)))


def plan_branch(settings: Settings, branch: str, cursor: str | None) -> BranchPlan:
    """Compare a branch tip with the cursor; never raises for a broken repo or branch."""
    repo = settings.repo_path
    try:
        tip = branch_tip(repo, branch)
        if cursor is None:
            return BranchPlan(branch, (tip,), cursor)
        if cursor == tip:
            return BranchPlan(branch, (), cursor)
        if is_ancestor(repo, cursor, tip):
            return BranchPlan(branch, commits_since(repo, cursor, tip), cursor)
        base = merge_base(repo, cursor, tip)
        rewritten = commits_since(repo, base, tip) if base else ()
    except PerfPipelineError as exc:
        return BranchPlan(branch, (), cursor, note=f"{exc}; keeping the cursor "
                          f"({cursor[:10] if cursor else 'none'}) until it is fixed")
    moved = f"branch {branch!r} was force-pushed: {cursor[:10]} is no longer on it (tip {tip[:10]})"
    if base and len(rewritten) <= FORCE_PUSH_MAX_BACKLOG:
        return BranchPlan(branch, (), base, note=(
            f"{moved}; resuming from the merge base {base[:10]}: its {len(rewritten)} "
            "rewritten commit(s) are requested from the next tick"))
    return BranchPlan(branch, (), None, note=(
        f"{moved}; no merge base within {FORCE_PUSH_MAX_BACKLOG} commits, resuming from the "
        "new tip on the next tick (backfill older commits explicitly if needed)"))


def commit_run_request(sha: str, *, branch: str, with_stress: bool = False,
                       machine: str | None = None) -> dg.RunRequest:
    """One commit's run: run key ``<sha>:benchmarks`` (one sensor run per commit); the
    stress suite too when the ``stress_per_commit`` setting asks for it; tagged for
    ``machine`` (pipeline.fleet), the one this location measures on."""
    names = (*COMMIT_ASSETS, *STRESS_ASSETS) if with_stress else COMMIT_ASSETS
    return dg.RunRequest(
        run_key=f"{sha}:benchmarks",
        partition_key=sha,
        asset_selection=[asset_key(name) for name in names],
        tags={"perf_pipeline/trigger": "commit_sensor", "perf_pipeline/branch": branch,
              **(machine_tags(machine) if machine else {})},
    )


def ensure_measuring_pool(instance: dg.DagsterInstance) -> None:
    """Create the measuring pool's limit (dagster.yaml ``default_limit``) if it is missing.

    The run queue creates a pool's limit the first time it sees a queued run of that pool,
    but in that same pass it does not enforce it yet: two measuring runs queued together
    on a fresh instance could both start. The sensor's first tick closes that window.
    """
    storage = instance.event_log_storage
    if MEASURING_POOL not in storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default(MEASURING_POOL)


def instance_elsewhere() -> str | None:
    """Why this process's instance is not the one in ``$DAGSTER_HOME``, or None.

    Its dagster.yaml keeps storage at relative paths, and Dagster resolves them against
    the current directory: a ``dagster dev`` started in a subfolder of the project opened
    a second, empty instance there, whose commit sensor (no cursor) measured the branch
    tip again and replaced that commit's confirmation and report in the shared results
    dir (a confirmed regression's report turned green). The same rule as the CLI's.
    """
    home = os.environ.get("DAGSTER_HOME")
    try:
        check_relative_storage(Path(home) if home else None)
    except InvalidInputError as exc:
        return f"not measuring from this instance: {exc}"
    return None


@dg.sensor(
    name="new_commits_sensor",
    target=asset_selection(*COMMIT_ASSETS, *STRESS_ASSETS),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a `commits` partition per new commit on the watched branches and "
                "measures it (oldest first, at most max_runs_per_tick per tick).",
)
def new_commits_sensor(context: dg.SensorEvaluationContext,
                       workspace: WorkspaceResource) -> dg.SensorResult:
    if (elsewhere := instance_elsewhere()) is not None:
        return dg.SensorResult(skip_reason=elsewhere)  # the cursor stays as it is
    ensure_measuring_pool(context.instance)
    fail_orphaned_runs(context.instance)  # a killed run would hold the pool for ever
    try:
        settings = workspace.settings()
    except PerfPipelineError as exc:
        return dg.SensorResult(skip_reason=f"settings: {exc}")
    watched = watched_branches(settings)
    # Only watched branches keep a cursor: one kept for a branch no longer watched made
    # that branch, watched again months later, request every commit since (oldest first)
    # instead of its tip, and the cursor grew with every branch ever watched.
    cursor = {b: sha for b, sha in _read_cursor(context.cursor).items() if b in watched}
    machine = local_machine_id(settings)
    budget = settings.max_runs_per_tick
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    for plan in (plan_branch(settings, b, cursor.get(b)) for b in watched):
        if plan.note:
            context.log.warning(plan.note)
            notes.append(plan.note)
        if plan.cursor is None:
            cursor.pop(plan.branch, None)
        else:
            cursor[plan.branch] = plan.cursor
        requested = {r.partition_key for r in requests}
        taken = 0
        for sha in plan.pending:
            if sha not in requested:
                if len(requests) >= budget:
                    break
                requests.append(commit_run_request(
                    sha, branch=plan.branch, with_stress=settings.stress_per_commit,
                    machine=machine))
            cursor[plan.branch] = sha
            taken += 1
        if taken < len(plan.pending):
            context.log.info(f"{len(plan.pending) - taken} more commit(s) on {plan.branch!r} "
                             "wait for the next tick(s)")
    new_cursor = json.dumps(cursor, sort_keys=True)
    if not requests:
        tips = ", ".join(f"{b}@{s[:10]}" for b, s in sorted(cursor.items()))
        return dg.SensorResult(skip_reason="; ".join(notes) or f"no new commits ({tips})",
                               cursor=new_cursor)
    shas = [r.partition_key for r in requests if r.partition_key]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[commits_partitions.build_add_request(shas)],
        cursor=new_cursor,
    )


def build_nightly_schedule(*, cron: str, timezone_name: str) -> dg.ScheduleDefinition:
    """The nightly full run (benchmarks + stress + analysis + report) on the main tip."""

    @dg.schedule(
        name="nightly_schedule",
        cron_schedule=cron,
        execution_timezone=timezone_name,
        target=asset_selection(*NIGHTLY_ASSETS),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Full benchmark suite plus the stress suite on the head of the main "
                    "branch (PERF_PIPELINE_NIGHTLY_CRON, default 02:00 UTC).",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext,
                         workspace: WorkspaceResource) -> dg.RunRequest | dg.SkipReason:
        if (elsewhere := instance_elsewhere()) is not None:
            return dg.SkipReason(f"nightly run skipped: {elsewhere}")
        try:
            settings = workspace.settings()
            sha = branch_tip(settings.repo_path, settings.main_branch)
        except PerfPipelineError as exc:
            return dg.SkipReason(f"nightly run skipped: {exc}")
        # A schedule cannot return partition requests: register the commit itself.
        register_commits(context.instance, [sha])
        when = context.scheduled_execution_time or datetime.now(timezone.utc)
        return dg.RunRequest(
            run_key=f"nightly:{when:%Y-%m-%d}:{sha}",
            partition_key=sha,
            asset_selection=[asset_key(name) for name in NIGHTLY_ASSETS],
            tags={"perf_pipeline/trigger": "nightly", "perf_pipeline/branch": settings.main_branch,
                  **machine_tags(local_machine_id(settings))},
        )

    return nightly_schedule


#: Downstream assets recompute when upstream ones change (their automation conditions);
#: the default automation sensor would start stopped.
perf_automation = dg.AutomationConditionSensorDefinition(
    "perf_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
)


@dg.definitions
def automation() -> dg.Definitions:
    """The schedule reads its cron when the definitions load (settings file, env vars).

    A module with a ``@dg.definitions`` function contributes only what it returns, so the
    sensors are listed here too.
    """
    defaults = Settings()
    try:
        settings = load_settings()
    except PerfPipelineError as exc:
        logger.warning("nightly schedule uses the default cron: %s", exc)
        settings = defaults
    return dg.Definitions(
        sensors=[new_commits_sensor, perf_automation],
        schedules=[build_nightly_schedule(cron=settings.nightly_cron,
                                          timezone_name=settings.nightly_timezone)],
    )
