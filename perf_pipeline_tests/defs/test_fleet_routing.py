"""Fleet routing in the Dagster layer: what a location launches names its machine, and a
measuring step refuses a run tagged for another machine (docs/deployment.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.culprit import action_run_request
from perf_pipeline.defs.launch import load_project_definitions, register_commits
from perf_pipeline.defs.measurement import benchmark_results
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.pipeline.bisect import CulpritAction, SearchSpec
from perf_pipeline.pipeline.fleet import MACHINE_ENV, MACHINE_TAG
from perf_pipeline_tests.defs.test_automation import more_commits, new_repo, target_for, tick


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return load_project_definitions()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_REPO", "PERF_PIPELINE_MAIN_BRANCH",
                "PERF_PIPELINE_WATCH_BRANCHES", "PERF_PIPELINE_MAX_RUNS_PER_TICK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(MACHINE_ENV, "bench-a")


def test_the_commit_sensor_tags_every_run_for_its_machine(defs, instance,
                                                           tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    first = tick(defs, instance, target_for(tmp_path, repo), None)
    more_commits(repo, 3)
    data = tick(defs, instance, target_for(tmp_path, repo), first.cursor)
    requests = [*first.run_requests, *data.run_requests]
    assert len(requests) == 4
    assert {r.tags[MACHINE_TAG] for r in requests} == {"bench-a"}


def test_culprit_probes_are_tagged_for_the_machine_that_searches() -> None:
    spec = SearchSpec(good="a" * 40, bad="b" * 40, benchmark="tests/t.py::test_x")
    probe = action_run_request(CulpritAction("measure", "c" * 40, spec), machine="bench-a")
    confirm = action_run_request(CulpritAction("confirm", "c" * 40, spec), machine="bench-a")
    assert probe.tags[MACHINE_TAG] == confirm.tags[MACHINE_TAG] == "bench-a"


def test_a_run_tagged_for_another_machine_measures_nothing(instance,
                                                           tmp_path: Path) -> None:
    repo, sha = new_repo(tmp_path / "repo")
    results = tmp_path / "results"
    config = tmp_path / "perf_pipeline.toml"
    config.write_text("[perf_pipeline]\n"
                      f"repo_path = {json.dumps(str(repo))}\n"
                      f"results_dir = {json.dumps(str(results))}\n")
    register_commits(instance, [sha])
    result = dg.materialize(
        [benchmark_results], instance=instance, partition_key=sha,
        resources={"workspace": WorkspaceResource(config_file=str(config))},
        tags={MACHINE_TAG: "bench-b"}, raise_on_error=False)
    assert not result.success
    (failure,) = [ev for ev in result.all_events if ev.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "'bench-b'" in message and "'bench-a'" in message
    assert not (results / "raw").exists()  # refused before anything was measured


def test_a_backfill_skips_only_commits_this_machine_measured(instance,
                                                             tmp_path: Path) -> None:
    from dataclasses import replace

    from perf_pipeline.config import load_settings
    from perf_pipeline.defs.backfill import measured_here
    from perf_pipeline.workspace import Workspace
    from perf_pipeline_tests.store.conftest import make_run, sha_of

    shas = [sha_of(i) for i in (1, 2, 3)]
    register_commits(instance, shas)
    for sha in shas[:2]:  # the fleet's instance: both partitions materialized
        instance.report_runless_asset_event(
            dg.AssetMaterialization("benchmark_results", partition=sha))
    settings = load_settings(environ={MACHINE_ENV: "bench-a"},
                             results_dir=str(tmp_path / "results"))
    with Workspace(settings) as ws:
        ws.store.ingest_run(replace(make_run(1), machine_id="bench-a"))
        ws.store.ingest_run(replace(make_run(2), machine_id="bench-b"))
        ws.store.ingest_run(replace(make_run(3), machine_id="bench-a"))  # not in Dagster
        assert measured_here(instance, ws) == {shas[0]}
