"""The measuring and analysis assets with the history on PostgreSQL (issue 12).

``dagster.materialize`` on the tiny target with the workspace resource's ``history_url``
pointed at a real PostgreSQL database; the run is then read back from PostgreSQL and
nothing went to the SQLite file of the results dir.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.launch import load_project_definitions, register_commits
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.model import RunStatus
from perf_pipeline.store import open_history

#: Few rounds: this tests where the run goes, not what it measures.
FAST = ["--benchmark-min-rounds=5", "--benchmark-max-time=0.01", "--benchmark-warmup=off"]


@pytest.mark.slow
def test_measuring_and_analysis_write_the_postgresql_history(
        tiny_target, postgres_url: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    sha = tiny_target.shas[0]
    workspace = WorkspaceResource(
        repo_path=str(tiny_target.repo), project_subdir=".", results_dir=str(results),
        pytest_args=FAST, benchmark_paths=["tests"], processes=1,
        confirm="off", history_url=postgres_url)
    defs = load_project_definitions()
    with dg.instance_for_test() as instance:
        register_commits(instance, [sha])
        result = dg.materialize(
            [*defs.assets, *(defs.asset_checks or [])],  # type: ignore[list-item]
            instance=instance, resources={"workspace": workspace}, partition_key=sha,
            selection=["benchmark_results", "performance_baseline", "regression_analysis"],
            raise_on_error=False)
        errors = [ev.step_failure_data.error.message for ev in result.all_events
                  if ev.is_step_failure and ev.step_failure_data.error]
        assert result.success, errors
    assert not (results / "perf_history.db").exists()  # the history is on PostgreSQL
    with open_history(postgres_url) as store:
        (info,) = store.list_runs(sha=sha)
        assert info.status is RunStatus.SUCCESS
        run = store.commit_run(sha)
        assert run is not None and run.run_id == info.run_id
        assert {b.name.rsplit("::", 1)[-1] for b in run.benchmarks} >= {"test_mean_abs",
                                                                        "test_fib"}
        assert all(len(b.samples_s) >= 5 for b in run.benchmarks)
        assert store.machines() == (run.machine_id,)
