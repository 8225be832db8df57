"""A run left STARTED by a SIGKILLed in-process materialization must not hold the
measuring pool for ever (``defs/launch.py``: ``fail_orphaned_runs``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import DagsterRun

from perf_pipeline.defs import launch, run_owner


def _started_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()),
                     status=dg.DagsterRunStatus.STARTED, tags=tags)
    instance.add_run(run)
    return run.run_id


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_whose_process_was_killed_is_marked_failed_and_others_are_left() -> None:
    """``perf-pipeline backfill`` (or ``demo``) SIGKILLed mid-run left its run STARTED:
    with ``pools.granularity: run`` the queue counted it as holding
    ``benchmark_machine``, and no sensor, schedule or UI measuring run started again."""
    here = launch._runner_tag().rsplit("/", 1)[0]
    with dg.instance_for_test() as instance:
        dead = _started_run(instance, {launch.RUNNER_TAG: f"{here}/{_dead_pid()}"})
        rebooted = _started_run(instance, {launch.RUNNER_TAG: f"{here.split('/')[0]}/"
                                                              f"old-boot/{os.getpid()}"})
        alive = _started_run(instance, {launch.RUNNER_TAG: f"{here}/{os.getppid()}"})
        mine = _started_run(instance, {launch.RUNNER_TAG: launch._runner_tag()})
        other_host = _started_run(instance, {launch.RUNNER_TAG: "elsewhere/b/1"})
        untagged = _started_run(instance, {})

        assert set(launch.fail_orphaned_runs(instance)) == {dead, rebooted}
        status = {run_id: instance.get_run_by_id(run_id).status  # type: ignore[union-attr]
                  for run_id in (dead, rebooted, alive, mine, other_host, untagged)}
        assert status[dead] is dg.DagsterRunStatus.FAILURE
        assert status[rebooted] is dg.DagsterRunStatus.FAILURE
        for run_id in (alive, mine, other_host, untagged):
            assert status[run_id] is dg.DagsterRunStatus.STARTED
        assert launch.fail_orphaned_runs(instance) == ()  # nothing left to do


def test_materialize_commit_tags_its_run_and_clears_orphans_first(
        monkeypatch, tmp_path) -> None:
    """The run ``materialize_commit`` starts names its process, and orphans are failed
    before it starts (the queue would otherwise wait on them)."""
    seen: dict[str, object] = {}

    def fake_materialize(assets, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    here = launch._runner_tag().rsplit("/", 1)[0]
    with dg.instance_for_test() as instance:
        dead = _started_run(instance, {launch.RUNNER_TAG: f"{here}/{_dead_pid()}"})
        monkeypatch.setattr(launch.dg, "materialize", fake_materialize)
        resource = launch.WorkspaceResource(results_dir=str(tmp_path), machine_id="box")
        with pytest.raises(RuntimeError, match="stop here"):
            launch.materialize_commit(instance=instance, sha="a" * 40,
                                      selection=["benchmark_results"], workspace=resource)
        assert instance.get_run_by_id(dead).status is dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
    assert seen["tags"][launch.RUNNER_TAG] == launch._runner_tag()  # type: ignore[index]


def test_a_measuring_step_tags_its_run_with_the_process_that_runs_it(tmp_path) -> None:
    """A run the daemon launched (`dagster dev`: sensor, schedule, UI) carried no such
    tag, so when its process was killed (the process group of `dagster dev`, an OOM
    kill, a reboot) nothing ever failed it: it held ``benchmark_machine`` for ever and
    every later measuring run stayed QUEUED."""
    from perf_pipeline.config import Settings
    from perf_pipeline.defs.fleet import claim_machine

    settings = Settings(results_dir=tmp_path, machine_id="box")

    @dg.asset
    def measuring_step(context) -> None:  # a string annotation is refused
        claim_machine(context, settings)

    with dg.instance_for_test() as instance:
        result = dg.materialize([measuring_step], instance=instance)
        run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert run.tags[launch.RUNNER_TAG] == launch._runner_tag()  # this process ran the step


@pytest.mark.parametrize("sensor_name", ["new_commits_sensor", "culprit_search_sensor"])
def test_the_sensors_fail_a_run_whose_process_is_gone(tmp_path, sensor_name) -> None:
    """`dagster dev` SIGKILLed during a measuring run and started again: the next tick of
    either sensor marks the dead run failed, so the queue starts measuring runs again."""
    from perf_pipeline.defs.automation import new_commits_sensor
    from perf_pipeline.defs.culprit import culprit_search_sensor

    sensor = {"new_commits_sensor": new_commits_sensor,
              "culprit_search_sensor": culprit_search_sensor}[sensor_name]
    here = launch._runner_tag().rsplit("/", 1)[0]
    workspace = launch.WorkspaceResource(repo_path=str(tmp_path / "no-repo"),
                                         results_dir=str(tmp_path / "results"))
    with dg.instance_for_test() as instance:
        dead = _started_run(instance, {launch.RUNNER_TAG: f"{here}/{_dead_pid()}"})
        alive = _started_run(instance, {launch.RUNNER_TAG: launch._runner_tag()})
        sensor(dg.build_sensor_context(instance=instance, resources={"workspace": workspace}))
        assert instance.get_run_by_id(dead).status is dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        assert instance.get_run_by_id(alive).status is dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]


def test_a_re_executed_run_is_not_failed_for_its_parents_process() -> None:
    """A re-execution (UI, run retries) copies the parent's tags, the parent's process
    among them: before its own first measuring step (or for ever, re-executed from the
    report on) the tag named a process that had ended, and a sensor tick failed it."""
    here = launch._runner_tag().rsplit("/", 1)[0]
    with dg.instance_for_test() as instance:
        gone = f"{here}/{_dead_pid()}"
        parent = _started_run(instance, {launch.RUNNER_TAG: gone})
        instance.report_run_failed(instance.get_run_by_id(parent))  # type: ignore[arg-type]
        child = _started_run(instance, {launch.RUNNER_TAG: gone,
                                        "dagster/parent_run_id": parent})
        own = _started_run(instance, {launch.RUNNER_TAG: f"{here}/{_dead_pid()}",
                                      "dagster/parent_run_id": parent})
        assert launch.fail_orphaned_runs(instance) == (own,)
        assert instance.get_run_by_id(child).status is dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]


_EARLIER_STEP_DEFS = textwrap.dedent("""
    import os, time
    from pathlib import Path
    import dagster as dg
    from perf_pipeline.config import Settings
    from perf_pipeline.defs.fleet import claim_machine
    from perf_pipeline.defs import resources  # a module: Dagster loads one definitions

    READY = Path(os.environ["READY_FILE"])

    @dg.asset
    def earlier_step() -> None:  # not a measuring step (the screen before a confirmation)
        READY.write_text(str(os.getpid()))
        time.sleep(120)

    @dg.asset(deps=[earlier_step], pool="benchmark_machine")
    def measuring_step(context) -> None:
        claim_machine(context, Settings(results_dir=READY.parent / "r", machine_id="box"))

    defs = dg.Definitions(assets=[earlier_step, measuring_step],
                          executor=resources.resources().executor)  # the project's
""")


def _blocks_the_pool(instance: dg.DagsterInstance, run: DagsterRun) -> bool:
    """Whether the run queue (pools at run granularity) keeps a run asking for ``run``'s
    pools queued, given the runs now in progress."""
    from dagster._core.instance.config import PoolGranularity
    from dagster._core.op_concurrency_limits_counter import GlobalOpConcurrencyLimitsCounter

    blocked = False
    for _ in range(2):  # the first pass creates the pool's limit, as the queue's does
        counter = GlobalOpConcurrencyLimitsCounter(
            instance, [run], instance.get_run_records(
                filters=dg.RunsFilter(statuses=list(run_owner._ACTIVE))),
            concurrency_keys=instance.event_log_storage.get_concurrency_keys(),
            pool_limits=instance.event_log_storage.get_pool_limits(),
            pool_granularity=PoolGranularity.RUN)
        blocked = counter.is_blocked(run)
    return blocked


def test_a_run_killed_before_its_measuring_step_is_failed_and_frees_the_pool(
        tmp_path: Path) -> None:
    """A run SIGKILLed during a step before its first measuring step (or while its run
    worker started) had no owner tag: it stayed STARTED, the queue counted it as holding
    ``benchmark_machine`` (pools at run granularity count a run's pools from its start),
    and no sensor ever failed it. The executor now tags the run before any step."""
    home, ready = tmp_path / "home", tmp_path / "ready"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "concurrency:\n  pools:\n    granularity: run\n    default_limit: 1\n"
        "telemetry:\n  enabled: false\n")
    (tmp_path / "killed_run_defs.py").write_text(_EARLIER_STEP_DEFS)
    env = {**os.environ, "DAGSTER_HOME": str(home), "READY_FILE": str(ready)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-f",
         str(tmp_path / "killed_run_defs.py"), "--select", "earlier_step,measuring_step"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "stderr", "w"))  # noqa: SIM115 - closed with the process
    try:
        for _ in range(600):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert ready.exists(), (tmp_path / "stderr").read_text()[-3000:]
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            (run,) = instance.get_runs()
            assert run.tags.get(launch.RUNNER_TAG, "").endswith(f"/{ready.read_text()}")
            assert launch.fail_orphaned_runs(instance) == ()  # its process is alive
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            assert _blocks_the_pool(instance, run)  # what every later measuring run met
            assert launch.fail_orphaned_runs(instance) == (run.run_id,)
            assert instance.get_run_by_id(run.run_id).status is dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
            assert not _blocks_the_pool(instance, run)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


def test_a_run_killed_while_its_run_worker_starts_is_failed_by_run_monitoring(
        tmp_path: Path, monkeypatch) -> None:
    """Killed while its run worker loaded the project (before the executor tags it),
    a run stays STARTING with no owner tag, and the queue counts it as holding
    ``benchmark_machine`` like a running one. The repo's dagster.yaml turns on Dagster's
    run monitoring, whose start timeout fails it (the daemon runs this check)."""
    import logging

    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.storage.dagster_run import RunOpConcurrency
    from dagster._daemon.monitoring import run_monitoring

    from perf_pipeline_tests.defs.test_dagster_dev import instance_yaml

    (tmp_path / "dagster.yaml").write_text(instance_yaml(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        timeout = instance.run_monitoring_start_timeout_seconds
        assert 0 < timeout <= 600
        run = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()),
                         status=dg.DagsterRunStatus.NOT_STARTED,
                         run_op_concurrency=RunOpConcurrency(
                             all_pools={"benchmark_machine"},
                             root_key_counts={"benchmark_machine": 1},
                             has_unconstrained_root_nodes=False))
        instance.add_run(run)
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_STARTING.value, job_name="__ASSET_JOB"),
            run_id=run.run_id)
        (record,) = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))
        assert record.dagster_run.status is dg.DagsterRunStatus.STARTING
        assert launch.fail_orphaned_runs(instance) == ()  # no owner to judge it by
        assert _blocks_the_pool(instance, record.dagster_run)

        launched = instance.get_run_stats(run.run_id).launch_time
        monkeypatch.setattr(run_monitoring, "get_current_timestamp",
                            lambda: launched + timeout - 1)
        run_monitoring.monitor_starting_run(instance, record, logging.getLogger(__name__))
        assert instance.get_run_by_id(run.run_id).status is dg.DagsterRunStatus.STARTING  # type: ignore[union-attr]
        monkeypatch.setattr(run_monitoring, "get_current_timestamp",
                            lambda: launched + timeout + 1)
        run_monitoring.monitor_starting_run(instance, record, logging.getLogger(__name__))
        assert instance.get_run_by_id(run.run_id).status is dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        assert not _blocks_the_pool(instance, record.dagster_run)
