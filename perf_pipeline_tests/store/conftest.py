"""Factories for runs, shared by the store tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perf_pipeline.model import BenchmarkResult, CommitInfo, Environment, RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore, open_history

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


#: The tables of a history, emptied between tests that share one PostgreSQL database.
_TABLES = ("stress_results", "sources", "results", "benchmarks", "runs", "noise_benchmarks",
           "noise_profiles")


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    """One PostgreSQL database for the store tests of a session (creating a database
    per test costs ~0.7 s; emptying its tables costs milliseconds)."""
    from perf_pipeline_tests.postgres_server import fresh_database

    yield from fresh_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store test's history lives: a SQLite file, or an empty PostgreSQL history
    (skipped outside CI without a server, see ``postgres_server``). Every test that takes
    it, or ``store``, runs against both backends. Tests that need a brand-new database
    (migrations) take ``postgres_url`` instead."""
    if request.param == "sqlite":
        return tmp_path / "results" / "perf_history.db"
    url = str(request.getfixturevalue("shared_postgres_url"))
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('runs')").fetchone()[0] is not None:  # type: ignore[index]
            for table in _TABLES:  # DELETE: cheaper than TRUNCATE on tiny tables
                conn.execute(f"DELETE FROM {table}")
    return url


@pytest.fixture
def store(history_target: Path | str) -> Iterator[HistoryStore]:
    with open_history(history_target) as s:
        yield s


def count_rows(target: Path | str,
               tables: tuple[str, ...] = ("runs", "benchmarks", "results")) -> dict[str, int]:
    """Rows per table, read with the bare driver (not through the store under test)."""
    if isinstance(target, Path):
        conn = sqlite3.connect(target)
        try:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target) as pg:
        return {t: pg.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in tables}


@pytest.fixture
def row_counts(history_target: Path | str) -> Callable[[], dict[str, int]]:
    return lambda: count_rows(history_target)


def sqlite_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` read straight from a SQLite file (schema checks, migration tests)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
