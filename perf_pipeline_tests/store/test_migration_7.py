"""SQLite migration 7 and PostgreSQL migration 2 (``runs.ancestry_ordinal``) on histories
written before them: every row is kept, the column is added empty (NULL), and the
indexes of history order are rebuilt with the ordinal in them.

The SQLite version-6 db is the schema-2 fixture (``make_history_v2.py``) brought to 6 by
the real migrations 3-6, as ``main`` before migration 7 left every history. The
PostgreSQL version-1 db is made by the real migration 1 and holds runs written with
version 1's columns.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import psycopg
import sqlalchemy as sa
import sqlite_utils

from perf_pipeline.store import HistoryStore, open_history, schema
from perf_pipeline.store import postgres_schema as pg_schema
from perf_pipeline.store.ingest import RUN_COLUMNS, benchmark_rows, run_row

from .conftest import make_run
from .conftest import sqlite_rows as _rows

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "history_v2.db"
_ORDER_INDEXES = ("idx_runs_suite_status_order", "idx_runs_suite_order",
                  "idx_runs_suite_machine_order")


def _v6_db(tmp_path: Path) -> Path:
    path = tmp_path / "perf_history.db"
    shutil.copy(FIXTURE, path)
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.conn.execute("BEGIN IMMEDIATE")
    for number in (3, 4, 5, 6):  # exactly what migrate() ran before migration 7 existed
        schema._MIGRATIONS[number - 1](db)
        db.conn.execute(f"PRAGMA user_version = {number}")
    db.conn.execute("COMMIT")
    db.conn.close()
    assert _rows(path, "PRAGMA user_version") == [(6,)]
    return path


def _with_ordinal(i: int, ordinal: int, **kwargs: object):  # type: ignore[no-untyped-def]
    run = make_run(i, **kwargs)  # type: ignore[arg-type]
    assert run.commit is not None
    return dataclasses.replace(run, commit=dataclasses.replace(run.commit,
                                                               ancestry_ordinal=ordinal))


def test_sqlite_migration_7_keeps_every_row_and_adds_an_empty_ordinal(tmp_path: Path) -> None:
    path = _v6_db(tmp_path)
    columns = [r[1] for r in _rows(path, "PRAGMA table_info(runs)")]
    assert "ancestry_ordinal" not in columns
    before = {t: _rows(path, f"SELECT * FROM {t} ORDER BY 1, 2")
              for t in ("benchmarks", "results", "sources")}
    runs_before = _rows(path, f"SELECT {', '.join(columns)} FROM runs ORDER BY run_id")
    with HistoryStore.open(path) as store:
        order_before = [r.run_id for r in store.list_runs()]
        assert all(r.commit is None or r.commit.ancestry_ordinal is None
                   for r in store.list_runs())
    assert _rows(path, "PRAGMA user_version") == [(schema.LATEST_VERSION,)]
    assert [r[1] for r in _rows(path, "PRAGMA table_info(runs)")] == [
        *columns, "ancestry_ordinal", "commit_utc"]  # commit_utc: migration 8
    assert _rows(path, f"SELECT {', '.join(columns)} FROM runs ORDER BY run_id") == runs_before
    assert _rows(path, "SELECT DISTINCT ancestry_ordinal FROM runs") == [(None,)]
    assert {t: _rows(path, f"SELECT * FROM {t} ORDER BY 1, 2") for t in before} == before
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
    for name in _ORDER_INDEXES:  # the ordinal's expression is part of every order index
        (sql,), = _rows(path, f"SELECT sql FROM sqlite_master WHERE name = '{name}'")
        assert 'COALESCE("ancestry_ordinal", -1)' in str(sql), name
    # history order walks the index, it does not sort (series reads follow it)
    plan = " ".join(str(r[-1]) for r in _rows(
        path, "EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE suite = 'benchmarks' "
              "AND status = 'success' ORDER BY sort_at, COALESCE(ancestry_ordinal, -1), "
              "started_utc, run_id"))
    assert "TEMP B-TREE" not in plan, plan
    with HistoryStore.open(path) as store:
        assert [r.run_id for r in store.list_runs()] == order_before
        old = [r for r in store.list_runs() if r.commit is not None][-1]
        assert old.commit is not None and old.commit.committed_at is not None
        # a run with an ordinal at an old commit's time sorts after that commit's runs
        # (they have none), though it started before them
        store.ingest_run(_with_ordinal(90, 5, committed_at=old.commit.committed_at,
                                       started_at=old.commit.committed_at))
        at = order_before.index(old.run_id) + 1
        assert [r.run_id for r in store.list_runs()] == [
            *order_before[:at], "run-benchmarks-0090", *order_before[at:]]
        assert store.get_run("run-benchmarks-0090").commit.ancestry_ordinal == 5  # type: ignore[union-attr]


def test_postgres_migration_2_keeps_every_row_and_adds_an_empty_ordinal(
        postgres_url: str) -> None:
    engine = sa.create_engine(sa.make_url(postgres_url).set(drivername="postgresql+psycopg"))
    v1 = pg_schema._tables_v1(sa.MetaData())
    old_columns = RUN_COLUMNS[:-2]  # version 1: no ancestry_ordinal (2), commit_utc (3)
    assert RUN_COLUMNS[-2:] == ("ancestry_ordinal", "commit_utc")
    try:
        with engine.begin() as conn:  # a database as the code of version 1 left it
            pg_schema._migration_1(conn)
            pg_schema._VERSION_TABLE.create(conn)
            conn.execute(sa.insert(pg_schema._VERSION_TABLE).values(version=1))
            for i in (1, 2, 3):
                run = make_run(i, committed_at="2024-01-01T05:00:00+00:00")
                row = run_row(run, ingested_at="2024-01-02T00:00:00+00:00")[:-2]
                conn.execute(sa.insert(v1["runs"]).values(dict(zip(old_columns, row,
                                                                   strict=True))))
                bench, results = benchmark_rows(run)
                conn.execute(sa.insert(v1["benchmarks"]), [
                    dict(zip(("run_id", "name", "position", "group_name", "params_json",
                              "iterations", "summary_json", "samples"), r, strict=True))
                    for r in bench])
                conn.execute(sa.insert(v1["results"]), [
                    dict(zip(("run_id", "name", "metric", "position", "value", "n", "mean",
                              "stddev", "min", "max", "q1", "q3"), r, strict=True))
                    for r in results])
    finally:
        engine.dispose()
    with psycopg.connect(postgres_url) as conn:
        runs_before = conn.execute(f"SELECT {', '.join(old_columns)} FROM runs "
                                   "ORDER BY run_id").fetchall()
        counts_before = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()
                         for t in ("benchmarks", "results")]
    with open_history(postgres_url) as store:
        assert [r.run_id for r in store.list_runs()] == [
            "run-benchmarks-0001", "run-benchmarks-0002", "run-benchmarks-0003"]
        assert store.get_run("run-benchmarks-0002").commit.ancestry_ordinal is None  # type: ignore[union-attr]
        # a run with an ordinal at the same commit time sorts after those without
        store.ingest_run(_with_ordinal(9, 1, committed_at="2024-01-01T05:00:00+00:00",
                                       started_at="2024-01-01T05:00:00+00:00"))
        assert [r.run_id for r in store.list_runs()][-1] == "run-benchmarks-0009"
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM perf_pipeline_schema").fetchall() == [
            (pg_schema.LATEST_PG_VERSION,)] == [(3,)]
        assert conn.execute(f"SELECT {', '.join(old_columns)} FROM runs WHERE run_id != "
                            "'run-benchmarks-0009' ORDER BY run_id").fetchall() == runs_before
        assert [conn.execute(f"SELECT count(*) FROM {t} WHERE run_id != "
                             "'run-benchmarks-0009'").fetchone()
                for t in ("benchmarks", "results")] == counts_before
        assert conn.execute("SELECT run_id, ancestry_ordinal FROM runs ORDER BY run_id"
                            ).fetchall() == [("run-benchmarks-0001", None),
                                             ("run-benchmarks-0002", None),
                                             ("run-benchmarks-0003", None),
                                             ("run-benchmarks-0009", 1)]
        kind = conn.execute("SELECT data_type FROM information_schema.columns WHERE "
                            "table_name = 'runs' AND column_name = 'ancestry_ordinal'"
                            ).fetchall()
        assert kind == [("bigint",)]
        for name in _ORDER_INDEXES:
            (definition,), = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                                          (name,)).fetchall()
            assert "COALESCE(ancestry_ordinal, ('-1'::integer)::bigint)" in definition, definition
