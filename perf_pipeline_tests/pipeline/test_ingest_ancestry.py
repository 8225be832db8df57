"""``ingest_results`` (``perf-pipeline ingest`` and ``analyze``) back-fills the
first-parent ordinals of stored runs that have none, so their history follows ancestry:
a commit dated in the future by a skewed clock no longer stays the newest run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.measure import commit_info
from perf_pipeline.model import BenchmarkResult, RunStatus, SuiteRun
from perf_pipeline.pipeline import ingest_results
from perf_pipeline.workspace import Workspace


def _commit(repo: Path, name: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.org"}
    if date is not None:
        env["GIT_COMMITTER_DATE"] = date
    (repo / "f").write_text(name)
    for args in (["add", "f"], ["commit", "-q", "--no-gpg-sign", "-m", name]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, timeout=30,
                       capture_output=True)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True, timeout=30).stdout.strip()


def test_ingest_puts_runs_stored_without_an_ordinal_in_ancestry_order(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "-C", str(repo), "init", "-q", "-b", "main"], check=True,
                   timeout=30)
    shas = [_commit(repo, "c1", "2024-05-01T10:00:00+00:00"),
            _commit(repo, "skewed", "2030-01-01T00:00:00+00:00"),
            _commit(repo, "c3", "2024-05-01T12:00:00+00:00")]
    (tmp_path / "results").mkdir()
    with Workspace(Settings(repo_path=repo, results_dir=tmp_path / "results")) as ws:
        for i, sha in enumerate(shas):  # as a history written before ordinals holds them
            ws.store.ingest_run(SuiteRun(
                run_id=f"run-{i}", suite="benchmarks", status=RunStatus.SUCCESS,
                started_at=f"2024-06-01T0{i}:00:00+00:00", duration_s=1.0, machine_id="m1",
                commit=commit_info(repo, sha, branch="main"),
                benchmarks=(BenchmarkResult(name="t", samples_s=(0.1, 0.2)),)))
        assert [r.run_id for r in ws.store.list_runs()] == ["run-0", "run-2", "run-1"]
        ingest_results(ws)
        assert [r.run_id for r in ws.store.list_runs()] == ["run-0", "run-1", "run-2"]
        latest = ws.store.latest_run()
        assert latest is not None and latest.sha == shas[2]
