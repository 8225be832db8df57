"""A history of stress runs for tests: one successful run per commit, a day apart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from perf_pipeline.model import CommitInfo, RunStatus, StressFigure, SuiteRun
from perf_pipeline.store import HistoryStore

__all__ = ["record_stress_runs"]


def record_stress_runs(db_path: Path,
                       runs: Sequence[tuple[str, Sequence[StressFigure]]]) -> None:
    """Store ``(sha, figures)`` in order as runs ``run1``, ``run2``, ... on main, the
    n-th committed and started on 2024-01-0n."""
    with HistoryStore.open(db_path) as store:
        for day, (sha, figures) in enumerate(runs, start=1):
            stamp = f"2024-01-0{day}T00:00:00+00:00"
            commit = CommitInfo(sha=sha, branch="main", message="m", author="x",
                                committed_at=stamp)
            store.ingest_run(SuiteRun(run_id=f"run{day}", suite="stress",
                                      status=RunStatus.SUCCESS, commit=commit,
                                      started_at=stamp))
            store.record_stress(f"run{day}", tuple(figures))
