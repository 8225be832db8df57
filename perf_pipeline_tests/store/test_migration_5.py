"""Migration 5 (compact samples, sources; after 3 and 4) on a db written by schema 2
(``main`` at ec233b4).

The fixture was written by ``make_history_v2.py`` with that version's code: sample
BLOBs in round order without codec byte, one run per commit (its failed re-run of
commit 2 replaced the successful one, as version 2 did), no ``sources`` table.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from perf_pipeline.errors import StoreError
from perf_pipeline.model import RunStatus
from perf_pipeline.store import LATEST_VERSION, HistoryStore, SourceStamp
from perf_pipeline.store.samples import decode_legacy_samples, decode_samples

from .conftest import make_run
from .conftest import sqlite_rows as _rows
from .make_history_v2 import fast_samples

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "history_v2.db"


@pytest.fixture
def v2_db(tmp_path: Path) -> Path:
    path = tmp_path / "perf_history.db"
    shutil.copy(FIXTURE, path)
    assert _rows(path, "PRAGMA user_version") == [(2,)]
    return path


def test_fixture_is_a_version_2_db_with_legacy_blobs(v2_db: Path) -> None:
    blobs = _rows(v2_db, "SELECT run_id, name, samples FROM benchmarks "
                         "WHERE name = 'test_fast' ORDER BY run_id")
    assert [r[0] for r in blobs] == ["run-1", "run-3"]
    # round order, plain float64: the samples exactly as make_history_v2 made them
    assert decode_legacy_samples(blobs[0][2], what="x") == fast_samples(1, 3000)


def test_migration_keeps_every_sample_and_row(v2_db: Path) -> None:
    tables = ("runs", "results")
    # the columns the tables had: later migrations add some (7: runs.ancestry_ordinal)
    columns = {t: ", ".join(r[1] for r in _rows(v2_db, f"PRAGMA table_info({t})"))
               for t in tables}
    before = {t: _rows(v2_db, f"SELECT {columns[t]} FROM {t} ORDER BY 1, 2") for t in tables}
    legacy = {(run_id, name): decode_legacy_samples(blob, what="x") for run_id, name, blob
              in _rows(v2_db, "SELECT run_id, name, samples FROM benchmarks")}
    size_before = sum(len(b) for (b,) in _rows(v2_db, "SELECT samples FROM benchmarks"))
    with HistoryStore.open(v2_db) as store:
        assert len(store.list_runs()) == 4
        for (run_id, name), samples in legacy.items():
            bench = store.get_run(run_id).benchmark(name)
            assert bench is not None and bench.samples_s == tuple(sorted(samples))
        pooled = store.commit_run(f"{1:040x}")
        assert pooled is not None and pooled.run_id == "run-1"
        assert store.commit_run(f"{2:040x}") is None  # v2 kept only its failed re-run
        assert [s.name for s in store.series()] == ["test_fast", "test_slow",
                                                    "test_summary_only"]
    assert _rows(v2_db, "PRAGMA user_version") == [(LATEST_VERSION,)]
    assert {t: _rows(v2_db, f"SELECT {columns[t]} FROM {t} ORDER BY 1, 2")
            for t in tables} == before
    blobs = _rows(v2_db, "SELECT run_id, name, samples FROM benchmarks")
    for run_id, name, blob in blobs:
        assert decode_samples(blob, what="x") == tuple(sorted(legacy[(run_id, name)]))
    size_after = sum(len(b) for (_, _, b) in blobs)
    assert size_after < size_before / 5  # 3,000 quantised samples compress well
    assert _rows(v2_db, "SELECT count(*) FROM sources") == [(0,)]


def test_migrated_db_takes_replicates_and_sources(v2_db: Path) -> None:
    with HistoryStore.open(v2_db) as store:
        run = make_run(2, run_id="run-2-again", committed_at="2024-01-02T00:00:00+00:00",
                       started_at="2024-01-03T00:00:00+00:00")
        stamp = SourceStamp(path="/results/raw/x/run.json", size=10, mtime_ns=5)
        assert store.ingest_run(run, source=stamp)
        assert [r.status for r in store.commit_runs(f"{2:040x}", status=None)] == [
            RunStatus.FAILED, RunStatus.SUCCESS]
        assert store.commit_run(f"{2:040x}") == run  # the failed run hides nothing now
        assert store.sources() == {stamp.path: (stamp, "run-2-again")}


def test_a_version_1_db_is_migrated_through_2_to_5(v2_db: Path) -> None:
    conn = sqlite3.connect(v2_db)  # back to what version 1 wrote
    conn.execute("DROP TABLE noise_benchmarks")
    conn.execute("DROP TABLE noise_profiles")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with HistoryStore.open(v2_db) as store:
        assert store.noise_profiles() == ()
        assert store.get_run("run-3").benchmark("test_slow").samples_s == (  # type: ignore[union-attr]
            0.2, 0.3, 0.30000000000000004)
    assert _rows(v2_db, "PRAGMA user_version") == [(LATEST_VERSION,)]


def test_a_corrupt_legacy_blob_fails_the_migration_and_changes_nothing(v2_db: Path) -> None:
    conn = sqlite3.connect(v2_db)
    conn.execute("UPDATE benchmarks SET samples = x'0102' WHERE run_id = 'run-3' "
                 "AND name = 'test_slow'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"run-3.*test_slow.*not float64"):
        HistoryStore.open(v2_db)
    assert _rows(v2_db, "PRAGMA user_version") == [(2,)]
    assert _rows(v2_db, "SELECT count(*) FROM sqlite_master WHERE name = 'sources'") == [(0,)]
