"""Write ``perf_pipeline_tests/data/history_v2.db``: a history db of schema version 2.

Run with the code of the last version-2 commit (``main`` at ec233b4), not the current
one, e.g.::

    git archive ec233b4 | tar -x -C /tmp/v2
    PYTHONPATH=/tmp/v2 python perf_pipeline_tests/store/make_history_v2.py OUT.db

``test_migration_5.py`` migrates a copy of the file and checks that nothing was lost.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore


def fast_samples(seed: int, n: int) -> tuple[float, ...]:
    """Timer-quantised samples of a sub-microsecond benchmark, in round order."""
    rng = random.Random(seed)
    return tuple((1000 + int(rng.expovariate(0.05))) * 1e-9 / 100 for _ in range(n))


def runs() -> list[SuiteRun]:
    out = []
    for i in range(1, 4):
        commit = CommitInfo(sha=f"{i:040x}", branch="main", message=f"commit {i}",
                            author="Dev", committed_at=f"2024-01-0{i}T00:00:00+00:00")
        out.append(SuiteRun(
            run_id=f"run-{i}", suite="benchmarks", started_at=f"2024-01-0{i}T01:00:00Z",
            status=RunStatus.SUCCESS, commit=commit, duration_s=3.0, raw_path=f"raw/{i}",
            benchmarks=(
                BenchmarkResult(name="test_fast", samples_s=fast_samples(i, 3000),
                                iterations=100, extra=(("peak_rss_bytes", 1e6 * i),)),
                BenchmarkResult(name="test_slow", samples_s=(0.3, 0.1 * i, 0.2)),
                BenchmarkResult(name="test_summary_only", samples_s=(),
                                summary=(("median_s", 0.002 * i), ("rounds", 7.0))),
            )))
    out.append(SuiteRun(run_id="run-2-failed", suite="benchmarks",
                        started_at="2024-01-02T02:00:00Z", status=RunStatus.FAILED,
                        commit=out[1].commit, error="boom"))
    out.append(SuiteRun(run_id="file-no-commit", suite="benchmarks",
                        started_at="2024-01-04T00:00:00Z", status=RunStatus.SUCCESS,
                        benchmarks=(BenchmarkResult(name="test_slow", samples_s=(0.5,)),)))
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1])
    with HistoryStore.open(target) as store:
        for run in runs():
            store.ingest_run(run)
    print(f"wrote {target}")
