"""stress_results through Dagster on a real repo with a stress-marked benchmark."""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.resources import HistoryStoreResource, TargetRepoResource
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import commit_files, git

STRESS_TEST = textwrap.dedent('''
    import os

    import pytest


    @pytest.mark.stress
    def test_scaled_load(benchmark):
        n = int(1_000 * float(os.environ["STRESS_MULTIPLIER"]))
        assert os.environ["STRESS_MULTIPLIER"] == "3"  # the setting reached the suite
        assert benchmark(lambda: sum(range(n))) == n * (n - 1) // 2


    def test_not_stress(benchmark):
        raise AssertionError("only -m stress tests run in the stress suite")
''')
PYTEST_INI = "[pytest]\nmarkers =\n    stress: scaled load\n"
FAST = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.02"]


@pytest.mark.slow
def test_stress_results_runs_the_stress_suite(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = commit_files(repo, {"tests/test_stress.py": STRESS_TEST, "pytest.ini": PYTEST_INI},
                       "stress suite")
    monkeypatch.setenv("STRESS_MULTIPLIER", "3")
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    results = tmp_path / "results"
    target = TargetRepoResource(repo_path=str(repo), project_subdir=".",
                                results_dir=str(results), stress_paths=["tests"],
                                pytest_args=FAST)
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha=sha, selection=["stress_results"],
                                     target=target,
                                     history=HistoryStoreResource(results_dir=str(results)))
        assert outcome.success, outcome.error
        (record,) = instance.fetch_materializations(dg.AssetKey("stress_results"),
                                                    limit=5).records
        meta = record.asset_materialization.metadata  # type: ignore[union-attr]
        assert record.asset_materialization.partition == sha  # type: ignore[union-attr]
        assert meta["benchmark_count"].value == 1
        assert "test_scaled_load" in meta["medians"].value
    with HistoryStore.open(results / "perf_history.db") as store:
        (run,) = store.list_runs()
        assert (run.suite, run.status) == ("stress", RunStatus.SUCCESS)
        assert store.list_runs(suite="benchmarks") == ()
