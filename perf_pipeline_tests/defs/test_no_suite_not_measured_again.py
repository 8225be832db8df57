"""Dagster's measuring assets at a commit the history already records without the suite."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.measurement import REMEASURE_TAG
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import FAST_ARGS, commit_files, git

pytestmark = pytest.mark.usefixtures("default_settings_env")


@pytest.mark.slow
@pytest.mark.parametrize(("asset", "suite"), [("benchmark_results", "benchmarks"),
                                              ("stress_results", "stress")])
def test_a_commit_recorded_without_the_suite_is_not_set_up_again(
        instance: dg.DagsterInstance, tmp_path: Path, asset: str, suite: str) -> None:
    """Such a commit once materialized nothing, so Dagster listed its partition as
    missing and every "materialize missing" backfill of the UI measured it again: a
    worktree, the target's environment and a pytest session, and one more no_suite run in
    the history each time. A run of it that is not a re-measure materializes the
    history's record (``measured_again: false``), and a run tagged to re-measure still
    measures."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = commit_files(repo, {"tests/test_unit.py": "def test_unit():\n    pass\n"},
                       "unit tests, before any benchmark or stress test")
    results = tmp_path / "results"
    target = WorkspaceResource(repo_path=str(repo), project_subdir=".",  # type: ignore[arg-type]
                               results_dir=str(results), benchmark_paths=["tests"],
                               stress_paths=["tests"], pytest_args=list(FAST_ARGS))

    def runs() -> list[RunStatus]:
        with HistoryStore.open(results / "perf_history.db") as store:
            return [r.status for r in store.list_runs(suite=suite)]

    def materialize(**kw: bool) -> None:
        outcome = materialize_commit(instance=instance, sha=sha, selection=[asset],
                                     workspace=target, log_level="CRITICAL", **kw)
        assert outcome.success, outcome.error

    materialize()
    assert runs() == [RunStatus.NO_SUITE]
    raw = sorted((results / "raw" / sha).iterdir())
    materialize()  # what a backfill of missing partitions does
    assert runs() == [RunStatus.NO_SUITE]  # not measured again
    assert sorted((results / "raw" / sha).iterdir()) == raw
    assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {sha}
    record = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records[0]
    meta = record.asset_materialization.metadata  # type: ignore[union-attr]
    assert record.asset_materialization.partition == sha  # type: ignore[union-attr]
    assert meta["status"].value == "no_suite" and meta["measured_again"].value is False
    assert meta["remeasure"].value == f"run tag {REMEASURE_TAG}=true"
    assert "suite at this commit" in str(meta["reason"].value)
    materialize(remeasure=True)  # perf-pipeline backfill --force, or the tag in the UI
    assert runs() == [RunStatus.NO_SUITE, RunStatus.NO_SUITE]
