"""Factories for runs, shared by the store tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_pipeline.model import BenchmarkResult, CommitInfo, Environment, RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore

ENV = Environment(python_version="3.11.7", python_implementation="CPython", os="Linux",
                  machine="x86_64", cpu_model="Test CPU", cpu_count=2,
                  packages=(("zlib-ng", "1.0"), ("numpy", "2.0")),  # deliberately unsorted
                  lock_hash="abc123", thread_env=(("OMP_NUM_THREADS", "1"),))


def sha_of(i: int) -> str:
    return f"{i:040x}"


def make_run(i: int, *, suite: str = "benchmarks", sha: str | None = "auto",
             branch: str | None = "main", status: RunStatus = RunStatus.SUCCESS,
             names: tuple[str, ...] = ("test_a", "test_b"), scale: float = 1.0,
             run_id: str | None = None, dirty: bool = False,
             started_at: str | None = None, committed_at: str | None = None) -> SuiteRun:
    """Run number ``i`` of a linear history: commit i at hour i, started at hour i + 1."""
    commit = None
    if sha is not None:
        commit = CommitInfo(sha=sha_of(i) if sha == "auto" else sha, branch=branch,
                            message=f"commit {i}\n\nbody", author="Dev <dev@example.org>",
                            committed_at=committed_at or f"2024-01-01T{i % 24:02d}:00:00+00:00",
                            dirty=dirty)
    benchmarks = () if status is RunStatus.FAILED else tuple(
        BenchmarkResult(name=name, samples_s=tuple(scale * (k + 1) * (j + 1) / 1000
                                                   for j in range(5)),
                        group="g", params=(("n", str(k)),), iterations=2,
                        extra=(("peak_rss_bytes", 1e6 * (k + 1) * scale),))
        for k, name in enumerate(names))
    return SuiteRun(run_id=run_id or f"run-{suite}-{i:04d}", suite=suite,
                    started_at=started_at or f"2024-01-01T{i % 24:02d}:30:00+00:00",
                    status=status, benchmarks=benchmarks, commit=commit, environment=ENV,
                    duration_s=12.5, error="boom" if status is RunStatus.FAILED else None,
                    raw_path=f"raw/{i}.json", machine_id="m1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore.open(tmp_path / "results" / "perf_history.db") as s:
        yield s
