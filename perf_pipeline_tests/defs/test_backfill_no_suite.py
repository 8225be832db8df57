"""A backfill over commits from before the benchmark suite existed."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.defs.backfill import backfill_branch
from perf_pipeline.measure import HistoryStep, build_history
from perf_pipeline.model import RunStatus
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.conftest import CALC, TESTS, TINY_PYTEST_ARGS

pytestmark = pytest.mark.usefixtures("default_settings_env")


def _young_target(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    """Two commits without the ``tests`` folder, then the benchmarks."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "calc.py").write_text(CALC)
    (src / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')

    def add_readme(root: Path) -> None:
        (root / "README.md").write_text("calc\n")

    def add_benchmarks(root: Path) -> None:
        (root / "tests").mkdir()
        (root / "tests" / "test_perf.py").write_text(TESTS)

    repo = tmp_path / "repo"
    shas = build_history(repo, src, [HistoryStep("Add calc"), HistoryStep("README", add_readme),
                                     HistoryStep("Add benchmarks", add_benchmarks)])
    return repo, shas


@pytest.mark.slow
def test_commits_without_the_suite_are_no_suite_and_not_measured_again(
        instance: dg.DagsterInstance, tmp_path: Path) -> None:
    """Each commit from before the suite existed was a failed run ("pytest exited with
    code 4"): the backfill exited 2, and every later backfill set up and ran it again."""
    repo, shas = _young_target(tmp_path)
    settings = load_settings(repo_path=str(repo), project_subdir=".",
                             results_dir=str(tmp_path / "results"),
                             benchmark_paths=["tests"], pytest_args=list(TINY_PYTEST_ARGS),
                             processes=1)
    with Workspace(settings) as ws:
        first = backfill_branch(instance=instance, ws=ws, last=3)
        assert first.broken == (), [m.error for m in first.measured]
        assert [m.no_suite is not None for m in first.measured] == [True, True, False]
        assert first.no_suite == shas[:2] and first.measured_now == shas[2:]
        statuses = [r.status for r in ws.store.list_runs(suite="benchmarks")]
        assert statuses == [RunStatus.NO_SUITE, RunStatus.NO_SUITE, RunStatus.SUCCESS]

        second = backfill_branch(instance=instance, ws=ws, last=3)
        assert second.measured == () and second.skipped == shas
        assert second.skipped_no_suite == shas[:2]
        assert len(ws.store.list_runs(suite="benchmarks")) == 3  # nothing measured again

        # The commit's report: its history is the one measured commit, no failure.
        report = ws.layout.root / "reports" / "commits" / shas[2]
        markdown = next(report.glob("*.md")).read_text()
    assert shas[0][:7] not in markdown and "failed" not in markdown.lower()
    analysis = json.loads(next((ws.layout.root / "analysis").glob(f"{shas[2]}*")).read_text())
    assert analysis  # the measured commit was judged as usual

    assert not first.tip_without_suite and not second.tip_without_suite
    with Workspace(settings) as ws:
        forced = backfill_branch(instance=instance, ws=ws, last=3, force=True)
        # --force measures again, the commits recorded without the suite included
        # (Dagster's measuring asset skips them otherwise).
        assert [m.sha for m in forced.measured] == list(shas)
        assert len(ws.store.list_runs(suite="benchmarks")) == 6


@pytest.mark.slow
def test_a_branch_whose_newest_commit_has_no_suite_is_an_error(tmp_path: Path) -> None:
    """Settings that name no suite at all (a wrong ``benchmark_paths``) must not pass as a
    backfill of commits that merely predate the suite."""
    import os
    import subprocess
    import sys

    repo, shas = _young_target(tmp_path)
    config = tmp_path / "perf_pipeline.toml"
    config.write_text("[perf_pipeline]\n"
                      f"repo_path = {json.dumps(str(repo))}\n"
                      'project_subdir = "."\n'
                      f"results_dir = {json.dumps(str(tmp_path / 'results'))}\n"
                      'benchmark_paths = ["benchmarks"]\n')  # the suite is in tests/
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERF_PIPELINE_")
           or k == "PERF_PIPELINE_MEASURING_LOCK"}
    env.update(PERF_PIPELINE_CONFIG=str(config), PERF_PIPELINE_PROFILE="off")
    proc = subprocess.run([sys.executable, "-m", "perf_pipeline", "backfill", "--last", "3",
                           "--dagster-home", str(tmp_path / "dh"), "--json"],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert (doc["verdict"], doc["broken"], doc["no_suite"]) == ("no_suite", [], list(shas))
    assert f"the newest commit, {shas[-1][:10]}, has no benchmark suite" in proc.stderr


@pytest.mark.slow
def test_a_commit_whose_judging_was_cut_short_is_judged_by_the_next_backfill(
        instance: dg.DagsterInstance, tmp_path: Path) -> None:
    """A backfill stopped by a signal in a commit's confirmation left it measured but
    with no confirmation, report or gate; every later backfill counted it as measured and
    skipped it, so its verdict was never written. It is judged now, not measured again."""
    from perf_pipeline.defs.launch import materialize_commit
    from perf_pipeline.defs.resources import WorkspaceResource

    repo, shas = _young_target(tmp_path)
    settings = load_settings(repo_path=str(repo), project_subdir=".",
                             results_dir=str(tmp_path / "results"),
                             benchmark_paths=["tests"], pytest_args=list(TINY_PYTEST_ARGS),
                             processes=1, confirm="off")
    with Workspace(settings) as ws:
        cut = materialize_commit(  # what the stopped run had done of the newest commit
            instance=instance, sha=shas[2], workspace=WorkspaceResource.of(settings),
            selection=("benchmark_results", "performance_baseline", "regression_analysis"))
        assert cut.success, cut.error
        report = ws.layout.commit_report_dir(shas[2]) / "performance-report.md"
        assert not report.exists()

        again = backfill_branch(instance=instance, ws=ws, last=3)
        assert [m.sha for m in again.measured] == list(shas)  # the first two: no suite
        assert again.no_suite == shas[:2] and not again.broken
        assert again.judged_only == shas[2:] and shas[2] not in again.measured_now
        assert report.is_file()
        assert len(ws.store.list_runs(suite="benchmarks", status=RunStatus.SUCCESS)) == 1
        assert backfill_branch(instance=instance, ws=ws, last=3).measured == ()


@pytest.mark.slow
def test_a_commit_whose_judging_failed_is_judged_by_the_next_backfill(
        instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit measured by a run whose judging then failed (its screen raised: a bad
    baseline, a bug) has ``benchmark_results`` and no ``regression_analysis``. Counted as
    measured, every later backfill skipped it, so it never got a verdict (only --force,
    which measures it again, helped). The next backfill judges it, without measuring."""
    import perf_pipeline.pipeline
    from perf_pipeline.defs.automation import COMMIT_ASSETS
    from perf_pipeline.defs.launch import materialize_commit
    from perf_pipeline.defs.resources import WorkspaceResource

    repo, shas = _young_target(tmp_path)
    settings = load_settings(repo_path=str(repo), project_subdir=".",
                             results_dir=str(tmp_path / "results"),
                             benchmark_paths=["tests"], pytest_args=list(TINY_PYTEST_ARGS),
                             processes=1, confirm="off")

    def broken_screen(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the screen broke")

    with Workspace(settings) as ws:
        monkeypatch.setattr(perf_pipeline.pipeline, "analyze_commit", broken_screen)
        failed = materialize_commit(instance=instance, sha=shas[2], selection=COMMIT_ASSETS,
                                    workspace=WorkspaceResource.of(settings))
        assert not failed.success
        monkeypatch.undo()
        report = ws.layout.commit_report_dir(shas[2]) / "performance-report.md"
        assert not report.exists()

        again = backfill_branch(instance=instance, ws=ws, last=3)
        assert again.judged_only == shas[2:] and not again.broken
        assert report.is_file()
        assert len(ws.store.list_runs(suite="benchmarks", status=RunStatus.SUCCESS)) == 1
        assert backfill_branch(instance=instance, ws=ws, last=3).measured == ()
