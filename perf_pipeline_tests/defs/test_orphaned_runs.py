"""A run left STARTED by a SIGKILLed in-process materialization must not hold the
measuring pool for ever (``defs/launch.py``: ``fail_orphaned_runs``)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from perf_pipeline.defs import launch


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
