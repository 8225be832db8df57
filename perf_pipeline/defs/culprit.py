"""Culprit search in Dagster: a sensor drives the bisection, probes are measurements.

``culprit_search_sensor`` (every 60 s) defines a search for each new slowdown change
point framed by measured commits with unmeasured commits between them, then asks for
each open search's next step (``pipeline.bisect.culprit_actions``):

* a **probe**: a normal materialization of ``benchmark_results`` for that commit's
  partition (measuring pool; run key per search and commit, so a probe in flight is not
  requested twice);
* once one commit is left, **its confirmation**: a materialization of
  ``culprit_confirmation`` for that commit, the interleaved A/B against its parent
  (measuring pool), whose metadata names the culprit: subject, author, confirmed ratio.

The search keeps no state of its own in Dagster: where it stands follows from the
history (which commits are measured, their values), so a tick after a probe finished
plans the next one. ``perf_pipeline.pipeline`` is imported inside the bodies (see
defs/analysis.py).
"""

import dagster as dg

from perf_pipeline.defs.analysis import CULPRIT_SEARCH_TRIGGER, TRIGGER_TAG
from perf_pipeline.defs.automation import instance_elsewhere
from perf_pipeline.defs.fleet import asset_key, asset_selection, measuring_turn
from perf_pipeline.defs.launch import load_project_definitions, register_commits
from perf_pipeline.defs.measurement import benchmark_results
from perf_pipeline.defs.partitions import (
    MEASURING_POOL,
    commit_failure,
    commits_partitions,
    partition_sha,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.defs.run_owner import fail_orphaned_runs
from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.pipeline.fleet import machine_tags


class CulpritConfig(dg.Config):
    """Which search this confirmation closes: its good and bad commits and benchmark."""

    good: str
    bad: str
    benchmark: str


@dg.asset(
    partitions_def=commits_partitions,
    deps=[benchmark_results],
    pool=MEASURING_POOL,
    group_name="history",
    kinds={"python"},
    description="Confirms the commit a culprit search named by an interleaved A/B against "
                "its parent on the searched benchmark (plus controls); writes "
                "test-results/culprits/<search>.json with subject, author and ratio.",
)
def culprit_confirmation(context: dg.AssetExecutionContext, config: CulpritConfig,
                         workspace: WorkspaceResource) -> dg.MaterializeResult:
    from perf_pipeline.pipeline.bisect import confirm_search, search_spec

    sha = partition_sha(context)
    try:
        with workspace.open() as ws, measuring_turn(context, ws.settings):
            culprit = confirm_search(ws, search_spec(ws, config.good, config.bad,
                                                     config.benchmark), sha)
    except PerfPipelineError as exc:
        raise commit_failure(sha, exc, what="culprit") from exc
    meta: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(culprit.status),
        "benchmark": dg.MetadataValue.text(culprit.benchmark),
        "subject": dg.MetadataValue.text(culprit.subject),
        "author": dg.MetadataValue.text(culprit.author),
        "parent": dg.MetadataValue.text(culprit.parent_sha or ""),
        "step_ratio": dg.MetadataValue.float(culprit.step_ratio),
        "rounds_used": dg.MetadataValue.int(culprit.rounds_used),
        "probes": dg.MetadataValue.text(", ".join(p[:10] for p in culprit.probes)),
    }
    if culprit.confirmed_ratio is not None:
        meta["confirmed_ratio"] = dg.MetadataValue.float(culprit.confirmed_ratio)
    return dg.MaterializeResult(metadata=meta)


def action_run_request(action: object, *, machine: str | None = None) -> dg.RunRequest:
    """A ``pipeline.bisect.CulpritAction`` as a run request, tagged for ``machine``."""
    from perf_pipeline.pipeline.culprit_search import CulpritAction

    assert isinstance(action, CulpritAction)
    spec = action.spec
    tags = {TRIGGER_TAG: CULPRIT_SEARCH_TRIGGER, "perf_pipeline/search": spec.key,
            **(machine_tags(machine) if machine else {})}
    if action.kind == "measure":
        return dg.RunRequest(run_key=f"culprit:{spec.key}:probe:{action.sha}",
                             partition_key=action.sha,
                             asset_selection=[asset_key("benchmark_results")], tags=tags)
    return dg.RunRequest(
        run_key=f"culprit:{spec.key}:confirm:{action.sha}", partition_key=action.sha,
        asset_selection=[asset_key("culprit_confirmation")], tags=tags,
        run_config={"ops": {"culprit_confirmation": {"config": {
            "good": spec.good, "bad": spec.bad, "benchmark": spec.benchmark}}}})


#: Runs of one probe or confirmation the sensor starts at most. Dagster launches a run
#: key once, so a run that died without a record (cancelled, its process killed, a git
#: timeout before measuring) left its search waiting for ever; a failure that repeats
#: is the commit's, not the machine's, and is left to a person.
MAX_ATTEMPTS = 3
_RUN_KEY_TAG = "dagster/run_key"  # the tag Dagster's sensor daemon puts on the runs it launches
_GAVE_UP = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def next_attempt_key(instance: dg.DagsterInstance, run_key: str) -> str | None:
    """``run_key`` while no run of it failed; then ``<run_key>:retry<n>``; ``None`` after
    ``MAX_ATTEMPTS`` failed or cancelled runs. A run in flight or done keeps its key, so
    Dagster still launches it only once."""
    for attempt in range(MAX_ATTEMPTS):
        key = run_key if attempt == 0 else f"{run_key}:retry{attempt}"
        runs = instance.get_runs(filters=dg.RunsFilter(tags={_RUN_KEY_TAG: key}), limit=1)
        if not runs or runs[0].status not in _GAVE_UP:
            return key
    return None


@dg.sensor(
    name="culprit_search_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=asset_selection("benchmark_results", "culprit_confirmation"),
    description="Starts a culprit search when a slowdown change point appears between "
                "measured commits with unmeasured ones between them, and drives it: one "
                "benchmark_results probe per search and tick, then culprit_confirmation.",
)
def culprit_search_sensor(context: dg.SensorEvaluationContext,
                          workspace: WorkspaceResource) -> dg.SensorResult:
    from perf_pipeline.pipeline.bisect import culprit_actions

    if (elsewhere := instance_elsewhere()) is not None:
        return dg.SensorResult(skip_reason=elsewhere)
    fail_orphaned_runs(context.instance)  # a killed run would hold the pool for ever
    try:
        with workspace.open() as ws:
            settings = ws.settings
            actions = culprit_actions(ws, on_error=lambda spec, exc: context.log.warning(
                f"culprit search {spec.key} waits for the next tick: {exc}"))
    except PerfPipelineError as exc:
        return dg.SensorResult(skip_reason=f"culprit search: {exc}")
    requests, seen, given_up = [], set(), []
    for action in actions[:settings.max_runs_per_tick]:
        if (action.kind, action.sha) not in seen:  # two searches may probe one commit
            seen.add((action.kind, action.sha))
            request = action_run_request(action, machine=local_machine_id(settings))
            run_key = next_attempt_key(context.instance, request.run_key or "")
            if run_key is None:
                given_up.append(request.run_key or "")
                continue
            requests.append(request.with_replaced_attrs(run_key=run_key))
    for key in given_up:
        context.log.warning(f"{key}: its last {MAX_ATTEMPTS} runs failed or were cancelled; "
                            "materialize the partition by hand to go on with the search")
    if not requests:
        return dg.SensorResult(skip_reason="no open culprit search" if not given_up else
                               f"{len(given_up)} culprit step(s) failed {MAX_ATTEMPTS} times")
    shas = sorted({r.partition_key for r in requests if r.partition_key})
    return dg.SensorResult(run_requests=requests,
                           dynamic_partitions_requests=[commits_partitions.build_add_request(shas)])


def execute_run_request(instance: dg.DagsterInstance, request: dg.RunRequest, *,
                        workspace: WorkspaceResource) -> dg.ExecuteInProcessResult:
    """Run what the sensor asked for in this process, as the daemon would (tests, and
    running a search without a daemon): the partition first, then the materialization."""
    assert request.partition_key is not None and request.asset_selection is not None
    defs = load_project_definitions()
    register_commits(instance, [request.partition_key])
    return dg.materialize(
        [*defs.assets, *(defs.asset_checks or [])],  # type: ignore[list-item]
        instance=instance, resources={"workspace": workspace},
        partition_key=request.partition_key, selection=list(request.asset_selection),
        run_config=request.run_config or None, raise_on_error=False,
        tags={**request.tags, _RUN_KEY_TAG: request.run_key or ""})
