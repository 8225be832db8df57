"""stress_results through Dagster on real repos (the example target's stress suite, tiny
ones) and the nightly run that includes it.

A stress test checks that code holds up under load: it asserts and records figures
(``record_property``), and usually does not use the ``benchmark`` fixture. Then
pytest-benchmark writes no JSON at all, and the run must still count as a success. The
first version of this file only had a stress test that *did* use ``benchmark``, so it
passed while the nightly run failed on the example target; the plain-test cases below
are the shape of the real suite.
"""

from __future__ import annotations

import json
import re
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.config import PROJECT_ROOT
from perf_pipeline.defs.automation import NIGHTLY_ASSETS
from perf_pipeline.defs.launch import (
    CommitMaterialization,
    load_project_definitions,
    materialize_commit,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.measure import HistoryStep, build_history
from perf_pipeline.model import RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import commit_files, git
from perf_pipeline_tests.measure.test_session import FAILING_STRESS

EXAMPLE = PROJECT_ROOT / "examples" / "ml_pipeline"

BENCHMARKED_STRESS = textwrap.dedent('''
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
#: Like the example's stress tests: no ``benchmark`` fixture. Each run appends a line to
#: ``STRESS_PROOF``, so the test sees that the suite really ran, and how often.
PLAIN_STRESS = textwrap.dedent('''
    import os

    import pytest


    @pytest.mark.stress
    def test_scaled_load(record_property):
        n = int(1_000 * float(os.environ["STRESS_MULTIPLIER"]))
        assert os.environ["STRESS_MULTIPLIER"] == "3"  # the setting reached the suite
        assert sum(range(n)) == n * (n - 1) // 2
        record_property("items", n)
        with open(os.environ["STRESS_PROOF"], "a") as fh:
            fh.write(f"{os.getpid()}\\n")


    def test_not_stress():
        raise AssertionError("only -m stress tests run in the stress suite")
''')
PYTEST_INI = "[pytest]\nmarkers =\n    stress: scaled load\n"
FAST = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.02"]


def _materialize_stress(sha: str, target: WorkspaceResource, results: Path,
                        instance: dg.DagsterInstance) -> tuple[CommitMaterialization, dict]:
    outcome = materialize_commit(instance=instance, sha=sha, selection=["stress_results"],
                                 workspace=target)
    records = instance.fetch_materializations(dg.AssetKey("stress_results"), limit=5).records
    if not records:
        return outcome, {}
    (record,) = records
    assert record.asset_materialization.partition == sha  # type: ignore[union-attr]
    return outcome, dict(record.asset_materialization.metadata)  # type: ignore[union-attr]


def _only_stress_run(results: Path) -> SuiteRun:
    with HistoryStore.open(results / "perf_history.db") as store:
        (info,) = store.list_runs()
        assert info.suite == "stress"
        return store.get_run(info.run_id)


def _tiny_target(repo: Path, results: Path, **overrides: object) -> WorkspaceResource:
    """The tiny stress repo as the workspace: its tests are the stress suite. One pytest
    process per run unless a test asks for more: the default three measured a benchmarked
    stress test three times for nothing these tests assert."""
    settings: dict[str, object] = {"processes": 1, **overrides}
    return WorkspaceResource(repo_path=str(repo), project_subdir=".",  # type: ignore[arg-type]
                             results_dir=str(results), stress_paths=["tests"],
                             pytest_args=FAST, **settings)


def _tiny_stress_repo(tmp_path: Path, stress_module: str) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = commit_files(repo, {"tests/test_stress.py": stress_module, "pytest.ini": PYTEST_INI},
                       "stress suite")
    return repo, sha


@pytest.mark.slow
def test_stress_suite_with_a_benchmark_records_it(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    repo, sha = _tiny_stress_repo(tmp_path, BENCHMARKED_STRESS)
    monkeypatch.setenv("STRESS_MULTIPLIER", "3")
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    results = tmp_path / "results"
    target = _tiny_target(repo, results)
    with dg.instance_for_test() as instance:
        outcome, meta = _materialize_stress(sha, target, results, instance)
        assert outcome.success, outcome.error
        assert meta["benchmark_count"].value == 1
        assert "test_scaled_load" in meta["medians"].value
    run = _only_stress_run(results)
    assert run.status is RunStatus.SUCCESS
    assert [b.name for b in run.benchmarks] == ["tests/test_stress.py::test_scaled_load"]


@pytest.mark.slow
def test_stress_suite_of_plain_tests_is_a_success_without_benchmarks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, sha = _tiny_stress_repo(tmp_path, PLAIN_STRESS)
    proof = tmp_path / "stress-proof.txt"
    monkeypatch.setenv("STRESS_MULTIPLIER", "3")
    monkeypatch.setenv("STRESS_PROOF", str(proof))
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    results = tmp_path / "results"
    target = _tiny_target(repo, results, processes=3)
    with dg.instance_for_test() as instance:
        outcome, meta = _materialize_stress(sha, target, results, instance)
        assert outcome.success, outcome.error
        assert meta["benchmark_count"].value == 0
        assert meta["status"].value == "success"
    run = _only_stress_run(results)
    assert (run.status, run.benchmarks, run.error) == (RunStatus.SUCCESS, (), None)
    # Further processes only replicate benchmark samples; with none, one process is enough.
    assert len(proof.read_text().splitlines()) == 1
    assert sorted(p.name for p in Path(run.raw_path or "").iterdir()) == ["run.json"]


@pytest.mark.slow
def test_a_commit_from_before_the_stress_tests_beside_the_benchmarks_is_no_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stress tests will share the benchmarks' folder: at an older commit
    stress_results failed ("pytest collected no tests with -m 'stress'"), so a nightly
    run or a stress_per_commit run of it was red. No stress suite is no failure: both
    assets are materialized saying so (no partition missing for ever), stress_analysis
    as a no-op that judged nothing and wrote no report, and its check passes."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = commit_files(repo, {"tests/test_perf.py": "def test_b(benchmark):\n"
                                                    "    benchmark(sum, range(9))\n",
                              "pytest.ini": PYTEST_INI}, "benchmarks only")
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    results = tmp_path / "results"
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha=sha,
                                     workspace=_tiny_target(repo, results),
                                     selection=["stress_results", "stress_analysis"])
        assert outcome.success, outcome.error
        assert outcome.warned_checks == ()
        metas = {}
        for name in ("stress_results", "stress_analysis"):
            assert instance.get_materialized_partitions(dg.AssetKey(name)) == {sha}
            (record,) = instance.fetch_materializations(dg.AssetKey(name), limit=5).records
            metas[name] = record.asset_materialization.metadata  # type: ignore[union-attr]
        assert metas["stress_results"]["summary"].value == "no stress suite at this commit"
        assert metas["stress_analysis"]["judged"].value is False
        (record,) = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("stress_analysis"), "no_confirmed_stress_regressions"),
            limit=5)
        check = record.event.dagster_event.event_specific_data  # type: ignore[union-attr]
        assert check.passed and check.description.startswith(
            "not judged: no stress suite at this commit")
    assert not any(results.glob("reports/commits/*/stress-report.md"))
    run = _only_stress_run(results)
    assert run.status is RunStatus.NO_SUITE
    assert "no stress suite at this commit" in (run.error or "")


@pytest.mark.slow
def test_stress_results_on_the_example_target(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The default target and settings, as the nightly run uses them (light load)."""
    repo = tmp_path / "ml_pipeline"
    (sha,) = build_history(repo, EXAMPLE, [HistoryStep("example target")])
    monkeypatch.setenv("STRESS_MULTIPLIER", "0.05")
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_PROCESSES", "PERF_PIPELINE_RUNNER"):
        monkeypatch.delenv(var, raising=False)
    results = tmp_path / "results"
    target = WorkspaceResource(repo_path=str(repo), project_subdir=".",
                                results_dir=str(results))
    with dg.instance_for_test() as instance:
        outcome, meta = _materialize_stress(sha, target, results, instance)
        assert outcome.success, outcome.error
        assert meta["benchmark_count"].value == 0
    run = _only_stress_run(results)
    assert (run.status, run.benchmarks) == (RunStatus.SUCCESS, ())
    record = json.loads((Path(run.raw_path or "") / "run.json").read_text())
    assert "-m" in record["command"] and "stress" in record["command"]
    # The stress tests ran and all passed: none was skipped or deselected by mistake.
    assert re.search(r"= \d+ passed in ", record["stdout_tail"]), record["stdout_tail"][-500:]
    # Their figures are kept with the raw files and stored, linked to the run.
    assert len(list((Path(run.raw_path or "") / "stress").glob("*.stress.json"))) == 4
    with HistoryStore.open(results / "perf_history.db") as store:
        figures = {(f.scenario, f.figure): f for f in store.stress_figures(run.run_id)}
    assert figures[("lookups_ramp", "p99_s")].histogram_json
    assert figures[("batch_scoring", "exponent")].low is not None
    assert figures[("train_inference_soak", "leak")].value == 0.0


@pytest.mark.slow
def test_nightly_run_measures_benchmarks_and_plain_stress_tests(
        tiny_target_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedule's run request, executed as the scheduler does: its job, subset to it."""
    def add_stress(root: Path) -> None:
        (root / "tests" / "test_stress.py").write_text(PLAIN_STRESS)

    tiny = tiny_target_factory(extra=(HistoryStep("Add a stress suite", add_stress),))
    head = tiny.shas[-1]
    results = tmp_path / "results"
    config = tmp_path / "perf_pipeline.toml"
    config.write_text(
        "[perf_pipeline]\n"
        f"repo_path = {json.dumps(str(tiny.repo))}\n"
        'project_subdir = "."\n'
        f"results_dir = {json.dumps(str(results))}\n"
        'benchmark_paths = ["tests/test_perf.py"]\n'
        'stress_paths = ["tests/test_stress.py"]\n'
        f"pytest_args = {json.dumps(list(tiny.pytest_args))}\n"
        # The job's wiring is under test, not pooling over processes (test_processes.py):
        # the default three ran the benchmarks three times for nothing asserted here.
        "processes = 1\n")
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    monkeypatch.setenv("STRESS_MULTIPLIER", "3")
    monkeypatch.setenv("STRESS_PROOF", str(tmp_path / "stress-proof.txt"))
    for var in ("PERF_PIPELINE_REPO", "PERF_PIPELINE_MAIN_BRANCH", "PERF_PIPELINE_RESULTS_DIR",
                "PERF_PIPELINE_PROCESSES"):
        monkeypatch.delenv(var, raising=False)
    defs = load_project_definitions()
    schedule = defs.resolve_schedule_def("nightly_schedule")
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance, resources={"workspace": WorkspaceResource()},
            scheduled_execution_time=datetime(2025, 3, 4, 2, tzinfo=timezone.utc),
            repository_def=defs.get_repository_def())
        (request,) = schedule.evaluate_tick(ctx).run_requests
        assert request.partition_key == head
        job = defs.resolve_job_def(schedule.job_name).get_subset(
            asset_selection=set(request.asset_selection or ()),
            asset_check_selection=request.asset_check_keys)
        result = job.execute_in_process(instance=instance, partition_key=head,
                                        tags=request.tags, raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
                if e.asset_key is not None}
        assert done == set(NIGHTLY_ASSETS)
    with HistoryStore.open(results / "perf_history.db") as store:
        assert {(r.suite, r.status) for r in store.list_runs()} == {
            ("benchmarks", RunStatus.SUCCESS), ("stress", RunStatus.SUCCESS)}




@pytest.mark.slow
def test_a_stress_test_failing_its_assertion_still_gets_its_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing stress test failed stress_results, so stress_analysis was skipped and
    nothing said what the suite had measured (the example's tests assert no leak and no
    errors under load). Now the figures are stored, the report is written, and the run
    still fails, at stress_analysis."""
    repo, sha = _tiny_stress_repo(tmp_path, FAILING_STRESS)
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    monkeypatch.delenv("STRESS_MULTIPLIER", raising=False)
    results = tmp_path / "results"
    target = _tiny_target(repo, results)
    with dg.instance_for_test() as instance:
        outcome = materialize_commit(instance=instance, sha=sha, workspace=target,
                                     selection=["stress_results", "stress_analysis"])
        assert not outcome.success
        assert "the stress suite failed (tests failed" in (outcome.error or "")
        (record,) = instance.fetch_materializations(dg.AssetKey("stress_results"),
                                                    limit=5).records
        meta = dict(record.asset_materialization.metadata)  # type: ignore[union-attr]
        assert meta["status"].value == "failed" and meta["stress_figures"].value > 0
    report = results / "reports" / "commits" / sha / "stress-report.md"
    text = report.read_text(encoding="utf-8")
    assert "This stress run failed" in text and "| error_rate | – | 100.00% |" in text
