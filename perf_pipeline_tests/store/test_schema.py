"""Schema version, explicit column types, refusal of unknown versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.store import LATEST_VERSION, HistoryStore

from .conftest import make_run


def _columns(db: Path, table: str) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return {row[1]: row[2] for row in conn.execute(f"PRAGMA table_info({table})")}
    finally:
        conn.close()


def test_new_db_is_at_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    HistoryStore.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION == 8
    conn.close()


def test_columns_have_explicit_types_and_tables_are_strict(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    HistoryStore.open(path).close()
    runs = _columns(path, "runs")
    assert runs["run_id"] == "TEXT" and runs["duration_s"] == "REAL"
    assert runs["dirty"] == "INTEGER" and runs["committed_at"] == "TEXT"
    results = _columns(path, "results")
    assert {results[c] for c in ("value", "mean", "stddev", "min", "max", "q1", "q3")} == {"REAL"}
    assert results["n"] == "INTEGER"
    # samples last (migration 6): only there does a zeroblob stay unmaterialised
    assert list(_columns(path, "benchmarks").items())[-1] == ("samples", "BLOB")
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):  # STRICT: no text in a REAL column
        conn.execute("INSERT INTO runs (run_id, suite, dirty, started_at, duration_s, status,"
                     " ingested_at, sort_at, started_utc) VALUES"
                     " ('x', 's', 0, 't', 'slow', 'success', 't', 't', 't')")
    conn.close()


def test_reopening_keeps_data_and_version(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        store.ingest_run(make_run(1))
    with HistoryStore.open(path) as store:
        assert store.get_run("run-benchmarks-0001") == make_run(1)


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    HistoryStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=rf"{path.name}.*schema version {LATEST_VERSION + 1}"):
        HistoryStore.open(path)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"h\.db"):
        HistoryStore.open(path)


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="file"):
        HistoryStore.open(blocker / "sub" / "h.db")


def test_bad_timeout_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="timeout_s"):
        HistoryStore.open(tmp_path / "h.db", timeout_s=0)
