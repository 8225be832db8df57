"""Two processes that ask for one commit recorded without the suite, at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.lock_holder import hold_lock, release
from perf_pipeline_tests.measure.conftest import FAST_ARGS, commit_files, git

_MATERIALIZE = """
import json, sys
import dagster as dg
from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
repo, results, lock, sha, fast = sys.argv[1:6]
target = WorkspaceResource(repo_path=repo, project_subdir=".", results_dir=results,
                           benchmark_paths=["tests"], pytest_args=json.loads(fast),
                           measuring_lock=lock)
with dg.instance_for_test() as instance:
    outcome = materialize_commit(instance=instance, sha=sha, selection=["benchmark_results"],
                                 workspace=target, log_level="INFO")
print("success" if outcome.success else outcome.error, flush=True)
"""


def _wait_for_the_lock(proc: subprocess.Popen[str]) -> None:
    """Read the process's log until it says it waits for the measuring lock."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if "waiting for it to finish" in line:
            return
    raise AssertionError(f"never waited for the measuring lock (exit {proc.wait()})")


@pytest.mark.slow
def test_a_step_that_waited_for_the_machine_does_not_measure_again_what_its_turn_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two backfills of missing partitions (the UI's and ``perf-pipeline backfill``, which
    the pool does not hold back) both ask for a commit that has no suite. Each read the
    history before waiting for the measuring lock, found nothing, and measured it after
    the other had recorded it: a worktree, an environment, pytest and a second no_suite
    run, what reading the history was meant to save. Read again once the turn is ours,
    the record the first one left answers the second."""
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR",
                "PERF_PIPELINE_MACHINE_ID", "PERF_PIPELINE_PROCESSES",
                "PERF_PIPELINE_MEASURING_LOCK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PERF_PIPELINE_PROFILE", "off")
    repo, results, lock = tmp_path / "repo", tmp_path / "results", tmp_path / "measuring.lock"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = commit_files(repo, {"tests/test_unit.py": "def test_unit():\n    pass\n"},
                       "unit tests, before any benchmark")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = [sys.executable, "-c", _MATERIALIZE, str(repo), str(results), str(lock), sha,
            json.dumps(list(FAST_ARGS))]
    holder = hold_lock(lock, measuring=True)  # a measurement of another commit
    procs = []
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
            _wait_for_the_lock(procs[-1])
    finally:
        release(holder)
        outputs = [proc.communicate(timeout=600) for proc in procs]
    assert [out.strip() for out, _ in outputs] == ["success", "success"], outputs
    with HistoryStore.open(results / "perf_history.db") as store:
        assert [r.status for r in store.list_runs(suite="benchmarks")] == [RunStatus.NO_SUITE]
