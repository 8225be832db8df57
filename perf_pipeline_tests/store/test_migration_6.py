"""Migration 6 (``benchmarks.samples`` last) on an existing version-5 db, and the
streamed write of large sample BLOBs it makes cheap (``store/ingest.py``).

The version-5 db is the schema-2 fixture (``make_history_v2.py``) brought to 5 by the
real migrations 3-5, as ``main`` before migration 6 left every history: ``samples`` in
the middle of ``benchmarks``.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from perf_pipeline.model import BenchmarkResult
from perf_pipeline.store import HistoryStore, schema
from perf_pipeline.store import ingest as store_ingest
from perf_pipeline.store.samples import SampleBlob, encode_samples

from .conftest import make_run
from .conftest import sqlite_rows as _rows

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "history_v2.db"
_COLUMNS = "run_id, name, position, group_name, params_json, iterations, samples, summary_json"


def _columns(path: Path) -> list[str]:
    return [row[1] for row in _rows(path, "PRAGMA table_info(benchmarks)")]


@pytest.fixture
def v5_db(tmp_path: Path) -> Path:
    path = tmp_path / "perf_history.db"
    shutil.copy(FIXTURE, path)
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.conn.execute("BEGIN IMMEDIATE")
    for number in (3, 4, 5):  # exactly what migrate() ran before migration 6 existed
        schema._MIGRATIONS[number - 1](db)
        db.conn.execute(f"PRAGMA user_version = {number}")
    db.conn.execute("COMMIT")
    db.conn.close()
    assert _rows(path, "PRAGMA user_version") == [(5,)]
    assert _columns(path)[-1] == "summary_json"  # samples in the middle, as in version 5
    return path


def test_migration_6_moves_samples_last_and_keeps_every_row(v5_db: Path) -> None:
    before = _rows(v5_db, f"SELECT {_COLUMNS} FROM benchmarks ORDER BY run_id, name")
    # the columns the tables had: later migrations add some (7: runs.ancestry_ordinal)
    columns = {t: ", ".join(r[1] for r in _rows(v5_db, f"PRAGMA table_info({t})"))
               for t in ("runs", "results", "sources")}
    others = {t: _rows(v5_db, f"SELECT {columns[t]} FROM {t} ORDER BY 1, 2") for t in columns}
    with HistoryStore.open(v5_db) as store:
        runs = {r.run_id: store.get_run(r.run_id) for r in store.list_runs()}
    assert _rows(v5_db, "PRAGMA user_version") == [(schema.LATEST_VERSION,)]
    assert _columns(v5_db) == ["run_id", "name", "position", "group_name", "params_json",
                               "iterations", "summary_json", "samples"]
    assert _rows(v5_db, f"SELECT {_COLUMNS} FROM benchmarks ORDER BY run_id, name") == before
    assert {t: _rows(v5_db, f"SELECT {columns[t]} FROM {t} ORDER BY 1, 2")
            for t in others} == others
    assert _rows(v5_db, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(v5_db, "PRAGMA foreign_key_check") == []
    assert [r[0] for r in _rows(v5_db, "SELECT name FROM sqlite_master WHERE "
                                       "tbl_name = 'benchmarks' AND type = 'table'")] == [
        "benchmarks"]
    # the primary key and the foreign key still hold
    conn = sqlite3.connect(v5_db)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(f"INSERT INTO benchmarks ({_COLUMNS}) SELECT {_COLUMNS} FROM benchmarks "
                     "LIMIT 1")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(f"INSERT INTO benchmarks ({_COLUMNS}) VALUES "
                     "('no-such-run', 'x', 0, NULL, '[]', 1, x'', '[]')")
    conn.close()
    with HistoryStore.open(v5_db) as store:  # reopening reads the same runs
        assert {r.run_id: store.get_run(r.run_id) for r in store.list_runs()} == runs


def _large_run(n: int, seed: int = 6):
    """A run whose first benchmark has ``n`` distinct samples (a plain, uncompressed
    BLOB of 8n + 1 bytes) and whose second has a few."""
    rng = random.Random(seed)
    run = make_run(1)
    big = BenchmarkResult(name="test_big", samples_s=[rng.uniform(1e-6, 2e-6) for _ in range(n)])
    return dataclasses.replace(run, benchmarks=(big, *run.benchmarks))


def test_a_large_blob_is_streamed_into_a_migrated_db_and_reads_back_exactly(
        v5_db: Path, monkeypatch) -> None:
    run = _large_run(150_000)  # 1.2 MB: past STREAMED_BLOB_BYTES
    assert encode_samples(run.benchmarks[0].samples_s)[0] == 0  # plain
    streamed = []
    real = store_ingest._insert_streamed
    monkeypatch.setattr(store_ingest, "_insert_streamed",
                        lambda conn, head, blob: (streamed.append(head[1]),
                                                  real(conn, head, blob)))
    with HistoryStore.open(v5_db) as store:
        assert store.ingest_run(run)
        assert store.get_run(run.run_id) == dataclasses.replace(
            run, benchmarks=tuple(dataclasses.replace(
                b, samples_s=b.samples_s.sorted_copy()) for b in run.benchmarks))
    assert streamed == ["test_big"]  # the small rows went in with executemany
    blob, = _rows(v5_db, "SELECT samples FROM benchmarks WHERE name = 'test_big'")[0]
    assert blob == encode_samples(run.benchmarks[0].samples_s)
    assert _rows(v5_db, "PRAGMA integrity_check") == [("ok",)]


def test_a_failed_streamed_write_leaves_no_part_of_the_run(tmp_path: Path,
                                                           monkeypatch) -> None:
    monkeypatch.setattr(store_ingest, "STREAMED_BLOB_BYTES", 0)  # every BLOB streamed
    pieces = SampleBlob.pieces

    def failing(self: SampleBlob, size: int = 1 << 20):
        yield from pieces(self, 8)
        raise OSError("disk full")  # after the first piece of the first BLOB

    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        assert store.ingest_run(make_run(1))  # all streamed, in 8-byte pieces
        monkeypatch.setattr(SampleBlob, "pieces", failing)
        with pytest.raises(OSError, match="disk full"):
            store.ingest_run(make_run(2))
        assert [r.run_id for r in store.list_runs()] == ["run-benchmarks-0001"]
        assert store.get_run("run-benchmarks-0001") == make_run(1)
    assert _rows(path, "SELECT count(*) FROM benchmarks") == [(2,)]
