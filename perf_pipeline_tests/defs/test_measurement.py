"""benchmark_results through Dagster, on a real tiny git repo."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.launch import load_project_definitions, materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore


def test_definitions_snapshot() -> None:
    defs = load_project_definitions()
    keys = {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}
    assert keys == {"benchmark_results", "stress_results", "performance_baseline",
                    "regression_analysis", "regression_confirmation", "regression_profile",
                    "performance_report", "performance_history", "stress_analysis",
                    "culprit_confirmation"}
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name, graph.get(key).blocking)
              for key in graph.asset_check_keys}
    # The screen only warns; the blocking gate sits on the report, after it is written.
    assert checks == {("regression_analysis", "no_significant_regressions", False),
                      ("performance_report", "no_confirmed_regressions", True),
                      ("stress_analysis", "no_confirmed_stress_regressions", False)}
    parents = {key.to_user_string() for key in graph.get(
        dg.AssetKey("performance_report")).parent_keys}
    assert "regression_confirmation" in parents and "regression_analysis" not in parents
    # The profile of the confirmed regressions comes before the report that shows it.
    assert "regression_profile" in parents
    profile_parents = {key.to_user_string() for key in graph.get(
        dg.AssetKey("regression_profile")).parent_keys}
    assert profile_parents == {"regression_confirmation"}
    profile = defs.resolve_assets_def("regression_profile")
    assert profile.partitions_def is not None and profile.partitions_def.name == "commits"
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.executor_def.name == "in_process"
    partitions = defs.resolve_assets_def("benchmark_results").partitions_def
    assert isinstance(partitions, dg.DynamicPartitionsDefinition)
    assert partitions.name == "commits"  # the storage key: never rename
    # The UI's groups follow the pipeline's stages; stress_analysis sat alone in "analysis".
    groups = {spec.key.to_user_string(): spec.group_name
              for spec in defs.resolve_all_asset_specs()}
    assert set(groups.values()) == {"measure", "analyze", "report", "history"}
    assert groups["stress_analysis"] == groups["regression_analysis"] == "analyze"


def _resources(repo: Path, results: Path, args: tuple[str, ...],
               **settings: object) -> dict[str, object]:
    return {
        "workspace": WorkspaceResource(repo_path=str(repo), project_subdir=".",  # type: ignore[arg-type]
                                       results_dir=str(results), pytest_args=list(args),
                                       benchmark_paths=["tests"], **settings),
    }


@pytest.mark.slow
def test_benchmark_results_measures_and_records(tiny_target, tmp_path: Path) -> None:
    results = tmp_path / "results"
    sha = tiny_target.shas[0]
    # One process per run: the replicate of a re-run partition is under test, not the
    # processes within a run (test_processes.py); the default three ran pytest six times.
    res = _resources(tiny_target.repo, results, tiny_target.pytest_args, processes=1)
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha=sha, selection=["benchmark_results"],
                                     **res)  # type: ignore[arg-type]
        assert outcome.success, outcome.error
        mats = instance.fetch_materializations(
            dg.AssetKey("benchmark_results"), limit=5).records
        meta = mats[0].asset_materialization.metadata  # type: ignore[union-attr]
        assert meta["benchmark_count"].value == 6
        assert "test_mean_abs" in meta["medians"].value
        assert meta["median_s/test_mean_abs"].value > 0
        # Re-running the partition measures again: a replicate beside the first run.
        again = materialize_commit(instance=instance, sha=sha, selection=["benchmark_results"],
                                   **res)  # type: ignore[arg-type]
        assert again.success
    with HistoryStore.open(results / "perf_history.db") as store:
        runs = store.list_runs(sha=sha)
        assert [r.status for r in runs] == [RunStatus.SUCCESS, RunStatus.SUCCESS]
        pooled = store.commit_run(sha)  # what the commit is judged on: both runs
        assert pooled is not None and pooled.run_id == runs[-1].run_id
        assert len(pooled.benchmarks[0].samples_s) == sum(
            len(store.get_run(r.run_id).benchmarks[0].samples_s) for r in runs)
    assert len(list((results / "raw" / sha).iterdir())) == 2  # raw outputs of both runs kept


@pytest.mark.slow
def test_failing_suite_fails_the_asset_and_is_recorded(tiny_target_factory, tmp_path: Path):
    target = tiny_target_factory()
    results = tmp_path / "results"
    res = _resources(target.repo, results, ("-k", "no_such_benchmark"))
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha=target.shas[0],
                                     selection=["benchmark_results"], **res)  # type: ignore[arg-type]
    assert not outcome.success
    assert "benchmarks suite failed" in (outcome.error or "")
    with HistoryStore.open(results / "perf_history.db") as store:
        assert [r.status for r in store.list_runs()] == [RunStatus.FAILED]


def test_unknown_commit_is_a_clear_failure(tiny_target, tmp_path: Path) -> None:
    res = _resources(tiny_target.repo, tmp_path / "r", ())
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha="0" * 40,
                                     selection=["benchmark_results"], **res)  # type: ignore[arg-type]
    assert not outcome.success
    assert "0000000000" in (outcome.error or "")


def test_a_failed_step_is_told_without_dagsters_class_path(tiny_target, tmp_path: Path) -> None:
    """`backfill` printed "failed: dagster._core.definitions.events.Failure: ..."."""
    res = _resources(tiny_target.repo, tmp_path / "r", ())
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha="0" * 40,
                                     selection=["benchmark_results"], **res)  # type: ignore[arg-type]
    assert outcome.error is not None
    assert "0000000000" in outcome.error
    assert "dagster._core" not in outcome.error, outcome.error


def test_only_a_failed_error_check_is_a_failed_gate() -> None:
    """The screen's WARN check fails whenever it flags something, and the A/B may clear
    it: backfill then said "regression" and exited 1 on a commit that passed the gate."""
    import dagster as dg

    from perf_pipeline.defs.launch import failed_checks_by_severity

    def ev(asset: str, check: str, passed: bool, severity: dg.AssetCheckSeverity):
        return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(asset), check_name=check,
                                       passed=passed, severity=severity)

    warn, error = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR
    assert failed_checks_by_severity([
        ev("regression_analysis", "no_significant_regressions", False, warn),
        ev("performance_report", "no_confirmed_regressions", True, error),
    ]) == ((), ("regression_analysis:no_significant_regressions",))
    assert failed_checks_by_severity([
        ev("performance_report", "no_confirmed_regressions", False, error),
    ]) == (("performance_report:no_confirmed_regressions",), ())


@pytest.mark.parametrize("key", ["main", "HEAD", "short"])
def test_a_partition_that_is_not_a_full_sha_is_refused_before_measuring(
        tiny_target, tmp_path: Path, key: str) -> None:
    # A key added by hand was measured (the run stored under the SHA it resolved to), and
    # regression_analysis of the same partition then found no run of its key.
    if key == "short":
        key = tiny_target.shas[0][:10]
    results = tmp_path / "results"
    res = _resources(tiny_target.repo, results, tiny_target.pytest_args)
    defs = load_project_definitions()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("commits", [key])
        outcome = dg.materialize([*defs.assets, *defs.asset_checks], instance=instance,
                                 resources=res, partition_key=key, raise_on_error=False,
                                 selection=["benchmark_results", "regression_analysis"])
    failures = [e for e in outcome.all_events if e.is_step_failure]
    assert failures and all(
        "is not a full commit SHA" in e.step_failure_data.error.message
        and "register-commit" in e.step_failure_data.error.message
        for e in failures if e.step_key == "benchmark_results")
    assert not (results / "raw").exists() or not any((results / "raw").iterdir())
