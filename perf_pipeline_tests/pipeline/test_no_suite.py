"""``commit_without_suite``: when the steps after a measurement judge nothing."""

from __future__ import annotations

from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.measure import local_machine_id
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.pipeline.no_suite import commit_without_suite
from perf_pipeline.workspace import Workspace

SHA = "a" * 40


def _run(n: int, status: RunStatus, machine: str, *, suite: str = "benchmarks") -> SuiteRun:
    ok = status is RunStatus.SUCCESS
    return SuiteRun(
        run_id=f"run-{n}", suite=suite, started_at=f"2024-01-01T0{n}:00:00+00:00",
        status=status, machine_id=machine,
        benchmarks=(BenchmarkResult(name="test_a", samples_s=(1e-3, 1.1e-3, 0.9e-3)),)
        if ok else (),
        error=None if ok else f"the {suite} suite does not exist at commit {SHA}",
        commit=CommitInfo(sha=SHA, branch="main", message="m",
                          committed_at="2024-01-01T00:00:00+00:00"))


def test_only_this_machines_newest_no_suite_run_with_nothing_to_judge(tmp_path: Path) -> None:
    """A commit whose newest run here found no suite, and that has no successful run
    here, has nothing to judge. One with an older successful run here (re-measured with
    wrong paths) still has numbers, and must not pass the gate for want of a suite;
    another machine's record says nothing about this one's settings."""
    settings = Settings(results_dir=tmp_path / "results", repo_path=tmp_path)
    here = local_machine_id(settings)
    with Workspace(settings) as ws:
        assert commit_without_suite(ws, SHA) is None  # never measured
        ws.store.ingest_run(_run(1, RunStatus.NO_SUITE, "elsewhere"))
        assert commit_without_suite(ws, SHA) is None
        ws.store.ingest_run(_run(2, RunStatus.NO_SUITE, here))
        found = commit_without_suite(ws, SHA)
        assert found is not None and found.run_id == "run-2"
        assert commit_without_suite(ws, SHA, suite="stress") is None
        ws.store.ingest_run(_run(3, RunStatus.SUCCESS, here))
        assert commit_without_suite(ws, SHA) is None  # measured since
        ws.store.ingest_run(_run(4, RunStatus.NO_SUITE, here))
        assert commit_without_suite(ws, SHA) is None  # its successful run is judged
