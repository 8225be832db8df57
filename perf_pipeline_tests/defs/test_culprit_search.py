"""Culprit search end to end: a 20-commit repo, commit 13 is 20 % slower, only commits
1, 5, 10, 15 and 20 measured at first; the sensor drives the search through Dagster
materializations (probes of ``benchmark_results``, then ``culprit_confirmation``).

The benchmarks sleep rather than compute: a sleep's length hardly depends on how busy
the shared machine is, so a 20 % step stays a 20 % step under load and the test stays
cheap (one pytest process per measurement, a few milliseconds per benchmark).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from perf_pipeline.defs.culprit import culprit_search_sensor, execute_run_request
from perf_pipeline.defs.launch import load_project_definitions, materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.measure.demo_repo import HistoryStep, build_history
from perf_pipeline.pipeline.bisect import read_culprits, request_culprit_search
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_bisect import STEP, STEP_AT, history, run_at  # noqa: F401

MOD = '''"""Two waits: the tiny target of the culprit search test."""
import time

DELAY_S = 0.005


def slow_step():
    time.sleep(DELAY_S)


def steady():
    time.sleep(0.005)
'''

TESTS = '''from mod import slow_step, steady


def test_slow_step(benchmark):
    benchmark(slow_step)


def test_steady_a(benchmark):
    benchmark(steady)


def test_steady_b(benchmark):
    benchmark(steady)


def test_steady_c(benchmark):
    benchmark(steady)


def test_steady_d(benchmark):
    benchmark(steady)
'''

#: 30 rounds of 5 ms per benchmark: a busy spell of the shared machine (it can hold a
#: waking sleeper back by a few ms for tens of ms) then covers a minority of a
#: benchmark's rounds and does not move its median.
PYTEST_ARGS = ["--benchmark-min-rounds=30", "--benchmark-max-time=0.15",
               "--benchmark-warmup=off"]
SLOW_COMMIT = 13  # 1-based, as the issue counts


def _note(i: int):
    def edit(root: Path) -> None:
        with (root / "NOTES.md").open("a") as f:
            f.write(f"note {i}\n")
    return edit


def _slowdown(root: Path) -> None:
    mod = root / "mod.py"
    mod.write_text(mod.read_text().replace("DELAY_S = 0.005", "DELAY_S = 0.006"))


def make_repo(dest: Path) -> tuple[str, ...]:
    src = dest.parent / "src"
    (src / "tests").mkdir(parents=True)
    (src / "mod.py").write_text(MOD)
    (src / "tests" / "test_waits.py").write_text(TESTS)
    (src / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    steps = [HistoryStep("Add the waits")]
    for i in range(2, 21):
        steps.append(HistoryStep("mod: wait longer in slow_step", _slowdown)
                     if i == SLOW_COMMIT else HistoryStep(f"Docs: note {i}", _note(i)))
    return build_history(dest, src, steps)


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A temp dir outside pytest's numbered base dirs: on a machine where several pytest
    sessions run at once, another session's retention clean-up removed a minutes-long
    test's base dir while it ran."""
    with tempfile.TemporaryDirectory(prefix="perf-culprit-") as tmp:
        yield Path(tmp)


@pytest.mark.slow
def test_sensor_bisects_to_commit_13_and_confirms_it(private_tmp: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = private_tmp
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    shas = make_repo(tmp_path / "repo")
    results = tmp_path / "results"
    target = WorkspaceResource(repo_path=str(tmp_path / "repo"), project_subdir=".",
                               results_dir=str(results), pytest_args=PYTEST_ARGS,
                               benchmark_paths=["tests"], processes=1,
                               confirm_max_rounds=10)
    settings = target.settings()
    ws = Workspace(settings)
    load_project_definitions()  # once, outside the instance (dagster-notes)
    with dg.instance_for_test() as instance:
        for n in (1, 5, 10, 15, 20):
            done = materialize_commit(instance=instance, sha=shas[n - 1],
                                      selection=["benchmark_results"], workspace=target)
            assert done.success, done.error
        # Five points are too few for a change point: the search is asked for by hand,
        # for the benchmark we slowed (as `perf-pipeline bisect ... -k slow_step` would).
        spec = request_culprit_search(ws, shas[0], shas[19], keyword="slow_step")
        assert spec.benchmark.endswith("test_slow_step")
        kinds = []
        for _ in range(6):
            result = culprit_search_sensor(dg.build_sensor_context(
                instance=instance, resources={"workspace": target}))
            if not result.run_requests:
                break
            for request in result.run_requests:
                kinds.append((request.asset_selection[0].to_user_string(),
                              shas.index(request.partition_key) + 1))
                ran = execute_run_request(instance, request, workspace=target)
                assert ran.success, [ev.step_failure_data.error.message for ev in ran.all_events
                                     if ev.is_step_failure and ev.step_failure_data.error]
        assert result.skip_reason  # the search is over
        # Commits 5, 10 and 15 were already measured: bisection starts between 10 and 15.
        assert kinds == [("benchmark_results", 12), ("benchmark_results", 13),
                         ("culprit_confirmation", 13)]
        measured = instance.get_materialized_partitions(dg.AssetKey("benchmark_results"))
        assert measured == {shas[n - 1] for n in (1, 5, 10, 12, 13, 15, 20)}
        record = instance.fetch_materializations(dg.AssetKey("culprit_confirmation"),
                                                 limit=1).records[0]
        meta = record.asset_materialization.metadata  # type: ignore[union-attr]
        assert record.asset_materialization.partition == shas[12]  # type: ignore[union-attr]
        assert meta["status"].value == "confirmed"
        assert meta["subject"].value == "mod: wait longer in slow_step"
    (culprit,) = read_culprits(ws)
    assert culprit.sha == shas[SLOW_COMMIT - 1] and culprit.parent_sha == shas[SLOW_COMMIT - 2]
    assert culprit.status == "confirmed" and culprit.verdict == "regression"
    assert culprit.author.startswith("perf_pipeline demo")
    assert culprit.probes == (shas[11], shas[12])
    assert culprit.confirmed_ratio is not None and 1.1 < culprit.confirmed_ratio < 1.35
    assert 1.1 < culprit.step_ratio < 1.35


def test_sensor_starts_a_search_at_a_new_change_point_and_drives_it(history) -> None:  # noqa: F811
    """No measuring: the history is ingested; the sensor's requests are checked."""
    settings, shas = history
    target = WorkspaceResource(repo_path=str(settings.repo_path), project_subdir=".",
                               results_dir=str(settings.results_dir))
    with dg.instance_for_test() as instance:
        def tick() -> dg.SensorResult:
            return culprit_search_sensor(dg.build_sensor_context(
                instance=instance, resources={"workspace": target}))

        first = tick()
        (probe,) = first.run_requests
        assert probe.partition_key == shas[STEP_AT]
        assert [k.to_user_string() for k in probe.asset_selection] == ["benchmark_results"]
        assert first.dynamic_partitions_requests[0].partition_keys == [shas[STEP_AT]]
        assert tick().run_requests[0].run_key == probe.run_key  # in flight: same key
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run_at(STEP_AT, shas[STEP_AT], np.random.default_rng(5)))
        (confirm,) = tick().run_requests
        assert confirm.partition_key == shas[STEP_AT]
        assert [k.to_user_string() for k in confirm.asset_selection] == [
            "culprit_confirmation"]
        config = confirm.run_config["ops"]["culprit_confirmation"]["config"]
        assert (config["good"], config["bad"], config["benchmark"]) == (
            shas[STEP_AT - 1], shas[STEP_AT + 1], STEP)


def _dead_run(instance: dg.DagsterInstance, run_key: str) -> None:
    """A run of ``run_key`` that died before recording anything (as a cancelled run or a
    killed process leaves it): the history never learns of it."""
    @dg.asset(name="dies")
    def dies() -> None:
        raise RuntimeError("killed")

    dg.materialize([dies], instance=instance, tags={"dagster/run_key": run_key},
                   raise_on_error=False)


def test_a_probe_whose_run_died_is_tried_again_then_left_to_a_person(history) -> None:  # noqa: F811
    # Dagster launches a run key once: a probe run that died without a record left the
    # search asking for a run that would never start again.
    settings, _ = history
    target = WorkspaceResource(repo_path=str(settings.repo_path), project_subdir=".",
                               results_dir=str(settings.results_dir))
    with dg.instance_for_test() as instance:
        def tick() -> dg.SensorResult:
            return culprit_search_sensor(dg.build_sensor_context(
                instance=instance, resources={"workspace": target}))

        (probe,) = tick().run_requests
        keys = [probe.run_key]
        for attempt in (1, 2):
            _dead_run(instance, keys[-1])
            (again,) = tick().run_requests
            assert again.partition_key == probe.partition_key
            keys.append(again.run_key)
            assert again.run_key == f"{probe.run_key}:retry{attempt}"
            assert tick().run_requests[0].run_key == again.run_key  # not dead: same key
        _dead_run(instance, keys[-1])
        given_up = tick()
        assert not given_up.run_requests
        assert given_up.skip_reason is not None
        assert "failed 3 times" in (given_up.skip_reason.skip_message or "")
