"""How CI gates a PR: it counts the baseline a run of *this* machine would get.

Counting runs, or runs of any machine, overstated the history: five runs of another CPU
model (hosted runners come with several) or three nightly runs of one commit sent a PR to
the screen with no baseline, or one commit's, where it passed unjudged.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import Settings
from perf_pipeline.measure import environment_fingerprint
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.pipeline import plan_pull_request
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.conftest import TinyTarget

HERE, OTHER = "runner-cpu-a", "runner-cpu-b"


def _run(k: int, sha: str, machine: str, rng: np.random.Generator) -> SuiteRun:
    benchmarks = tuple(
        BenchmarkResult(name=f"test_{j}", samples_s=tuple(
            float(1e-3 * (j + 1) * math.exp(rng.normal(0.0, 0.02))) for _ in range(8)))
        for j in range(4))
    return SuiteRun(run_id=f"run-{k:02d}-{machine}", suite="benchmarks",
                    started_at=f"2024-01-01T{k:02d}:30:00+00:00", status=RunStatus.SUCCESS,
                    benchmarks=benchmarks, machine_id=machine,
                    commit=CommitInfo(sha=sha, branch="main", message=f"commit {k}",
                                      committed_at=f"2024-01-01T{k:02d}:00:00+00:00"))


@pytest.fixture
def settings(tiny_target: TinyTarget, tmp_path: Path) -> Settings:
    return Settings(repo_path=tiny_target.repo, results_dir=tmp_path / "results",
                    machine_id=HERE, confirm_min_history=3, project_subdir=".",
                    benchmark_paths=("tests",))


def _store(settings: Settings, runs: list[SuiteRun]) -> None:
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    with HistoryStore.open(settings.db_path) as store:
        for run in runs:
            store.ingest_run(run)


def _plan(settings: Settings, base: str | None = None):
    with Workspace(settings) as ws:
        return plan_pull_request(ws, base)


def test_no_history_goes_to_the_ab_and_creates_nothing(settings: Settings) -> None:
    plan = _plan(settings)
    assert (plan.mode, plan.history_commits, plan.base_measured) == ("ab", 0, False)
    assert not settings.db_path.exists()


def test_runs_of_another_machine_are_no_history_here(settings: Settings,
                                                     tiny_target: TinyTarget) -> None:
    rng = np.random.default_rng(1)
    _store(settings, [_run(k, sha, OTHER, rng) for k, sha in enumerate(tiny_target.shas)]
           + [_run(9, tiny_target.shas[0], OTHER, rng)])
    plan = _plan(settings, tiny_target.shas[0])
    assert (plan.mode, plan.history_commits, plan.base_measured) == ("ab", 0, False)


def test_replicates_of_one_commit_are_one_baseline_commit(settings: Settings,
                                                          tiny_target: TinyTarget) -> None:
    rng = np.random.default_rng(2)
    _store(settings, [_run(k, tiny_target.shas[0], HERE, rng) for k in range(4)])
    plan = _plan(settings, tiny_target.shas[0])
    assert (plan.mode, plan.history_commits, plan.base_measured) == ("ab", 1, True)


def test_enough_commits_of_this_machine_screen_then_confirm(settings: Settings,
                                                            tiny_target: TinyTarget) -> None:
    rng = np.random.default_rng(3)
    _store(settings, [_run(k, sha, HERE, rng) for k, sha in enumerate(tiny_target.shas[:2])]
           + [_run(5, tiny_target.shas[2], OTHER, rng)])
    assert _plan(settings).mode == "ab"
    _store(settings, [_run(6, tiny_target.shas[2], HERE, rng)])
    plan = _plan(settings, tiny_target.shas[2])
    assert (plan.mode, plan.history_commits, plan.base_measured) == ("gate", 3, True)
    assert plan.outputs() == {"mode": "gate", "history_commits": "3", "min_history": "3",
                              "base_has_suite": "true",
                              "base_measured": "true"}


def test_runs_of_a_replaced_cpu_under_this_machine_id_are_no_history_here(
        settings: Settings, tiny_target: TinyTarget) -> None:
    """A box whose CPU was replaced keeps its machine_id: the old CPU's six commits
    sent a PR to the screen, judged against the one commit of this hardware."""
    here = environment_fingerprint(packages=())
    old = replace(here, cpu_model=f"not {here.cpu_model}")
    rng = np.random.default_rng(3)
    runs = [replace(_run(k, f"{k:040x}", HERE, rng), environment=old) for k in range(1, 7)]
    _store(settings, [*runs, replace(_run(7, f"{7:040x}", HERE, rng), environment=here),
                      replace(_run(8, tiny_target.shas[0], HERE, rng), environment=old)])
    plan = _plan(settings, tiny_target.shas[0])
    # The base was measured on the old CPU only: CI measures it again, here.
    assert (plan.mode, plan.history_commits, plan.base_measured) == ("ab", 1, False)
    more = [replace(_run(k, f"{k:040x}", HERE, rng), environment=here) for k in (9, 10)]
    _store(settings, more)
    assert (_plan(settings).mode, _plan(settings).history_commits) == ("gate", 3)


def test_the_cli_prints_github_outputs(settings: Settings, tiny_target: TinyTarget,
                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    rng = np.random.default_rng(4)
    _store(settings, [_run(k, sha, HERE, rng) for k, sha in enumerate(tiny_target.shas)])
    monkeypatch.setenv("PERF_PIPELINE_MACHINE_ID", HERE)
    monkeypatch.setenv("PERF_PIPELINE_CONFIRM_MIN_HISTORY", "4")
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(tiny_target.write_config(
        settings.results_dir.parent / "perf_pipeline.toml", results_dir=settings.results_dir)))
    code = main(["pr-plan", "--repo", str(tiny_target.repo), "--results-dir",
                 str(settings.results_dir), "--base", tiny_target.shas[1]])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.splitlines() == ["mode=ab", "history_commits=3", "min_history=4",
                                         "base_measured=true", "base_has_suite=true"]
    assert "3 baseline commit(s)" in captured.err and "mode ab" in captured.err


def test_an_option_like_base_is_refused(settings: Settings, tiny_target: TinyTarget,
                                        capsys) -> None:
    code = main(["pr-plan", "--repo", str(tiny_target.repo), "--results-dir",
                 str(settings.results_dir), "--base=--output=/tmp/x"])
    assert code == 2
    assert "--output" in capsys.readouterr().err


def test_a_results_dir_that_is_a_file_is_refused_and_a_missing_one_is_said(
        tmp_path: Path, tiny_target: TinyTarget, capsys) -> None:
    """A file named as the results dir read as "no history", so the PR silently went to
    the A/B alone; a missing one (a first run, no cache) still does, and says so."""
    a_file = tmp_path / "results.md"
    a_file.write_text("x")
    assert main(["pr-plan", "--repo", str(tiny_target.repo), "--results-dir",
                 str(a_file)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert main(["pr-plan", "--repo", str(tiny_target.repo), "--results-dir",
                 str(tmp_path / "nothing-yet")]) == 0
    captured = capsys.readouterr()
    assert "mode=ab" in captured.out.splitlines() and "no history at" in captured.err


def _repo_that_adds_the_suite(root: Path) -> tuple[Path, str, str]:
    """A repository whose first commit has no tests/ and whose second adds them."""
    repo = root / "adds-suite"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "calc.py").write_text("def f():\n    return 1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "Add calc"], check=True)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_perf.py").write_text("def test_f(benchmark):\n    benchmark(len, [])\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "Add benchmarks"], check=True)
    shas = subprocess.run([*git, "rev-list", "--reverse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.split()
    return repo, shas[0], shas[1]


def test_a_pr_that_adds_the_suite_is_screened_not_sent_to_an_ab(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Its base has no suite: ``ab --adaptive BASE HEAD`` stopped at round 1 ("pytest
    exited with code 4"), exit 2, no report, a red job for the PR that adds benchmarks.
    With no history it is now screened (not judged, with a report saying so)."""
    repo, base, _ = _repo_that_adds_the_suite(tmp_path)
    settings = Settings(repo_path=repo, results_dir=tmp_path / "results", machine_id=HERE,
                        project_subdir=".", benchmark_paths=("tests",))
    plan = _plan(settings, base)
    assert (plan.mode, plan.base_has_suite, plan.history_commits) == ("gate", False, 0)
    assert plan.outputs()["base_has_suite"] == "false"
    # the suite's own commit has it; a node id names its file
    head = _plan(replace(settings, benchmark_paths=("tests/test_perf.py::test_f",)), "HEAD")
    assert (head.mode, head.base_has_suite) == ("ab", True)
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('[perf_pipeline]\nproject_subdir = "."\nbenchmark_paths = ["tests"]\n')
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    code = main(["pr-plan", "--repo", str(repo), "--results-dir", str(tmp_path / "r2"),
                 "--base", base])
    captured = capsys.readouterr()
    assert code == 0
    assert "mode=gate" in captured.out.splitlines()
    assert "base_has_suite=false" in captured.out.splitlines()
    assert "has no benchmark suite" in captured.err


def test_a_pr_that_adds_the_first_benchmarks_beside_unit_tests_is_screened(
        tmp_path: Path) -> None:
    """``benchmark_paths = ["tests"]`` and a base whose tests/ held plain unit tests: the
    folder exists, so ``base_has_suite=true`` and mode ab; ``ab --adaptive`` then stopped
    at round 1 with no benchmark at the base: exit 2, no report, a red job."""
    repo, base, head = _repo_that_adds_the_suite(tmp_path)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "checkout", "-q", "-b", "unit", base], check=True)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_unit.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "unit tests"], check=True)
    unit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    settings = Settings(repo_path=repo, results_dir=tmp_path / "results", machine_id=HERE,
                        project_subdir=".", benchmark_paths=("tests",))
    plan = _plan(settings, unit)
    assert (plan.mode, plan.base_has_suite) == ("gate", False)
    assert (_plan(settings, head).mode, _plan(settings, head).base_has_suite) == ("ab", True)
