"""A commit dated in the future (a skewed clock) takes its place among its descendants
in history order, on both backends (``store/history_order.py``).

Commit times decided history order, so ``GIT_COMMITTER_DATE=2030-01-01 git commit``
made that commit the newest run for ever: each later commit sorted before it, its
rolling baseline never held it, and ``latest_run`` was it.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlite_utils

from perf_pipeline.model import SuiteRun
from perf_pipeline.store import HistoryStore, open_history, schema
from perf_pipeline.store import postgres_schema as pg_schema

from .conftest import make_run, sha_of
from .conftest import sqlite_rows as _rows

FUTURE = "2030-01-01T00:00:00+00:00"
#: c1 c2 S c4 c5 on main; S was committed by a clock set to 2030.
_MAIN = ((1, 11, "2024-05-01T10:00:00+00:00"), (2, 12, "2024-05-01T11:00:00+00:00"),
         (3, 13, FUTURE), (4, 14, "2024-05-01T13:00:00+00:00"),
         (5, 15, "2024-05-01T14:00:00+00:00"))
_NAMES = {sha_of(1): "c1", sha_of(2): "c2", sha_of(3): "S", sha_of(4): "c4",
          sha_of(5): "c5", sha_of(6): "feat", sha_of(7): "pr"}


def _run(i: int, ordinal: int | None, committed_at: str, *, branch: str | None = "main",
         started_at: str | None = None) -> SuiteRun:
    run = make_run(i, committed_at=committed_at, branch=branch, run_id=f"run-c{i}",
                   started_at=started_at or f"2024-05-02T{i:02d}:00:00+00:00")
    assert run.commit is not None
    return dataclasses.replace(run, commit=dataclasses.replace(run.commit,
                                                               ancestry_ordinal=ordinal))


def _names(runs: object) -> list[str]:
    return [_NAMES[r.sha if isinstance(r, SuiteRun) else r.commit.sha]  # type: ignore[attr-defined]
            for r in runs]  # type: ignore[attr-defined]


def _baseline_of(store: HistoryStore, i: int) -> list[str]:
    return _names(store.recent_commit_runs(n=10, before_run_id=f"run-c{i}",
                                           exclude_sha=sha_of(i)))


@pytest.mark.parametrize("order", [(1, 2, 3, 4, 5), (5, 4, 3, 2, 1), (1, 2, 4, 5, 3)])
def test_a_commit_dated_in_the_future_sorts_before_its_descendants(
        store: HistoryStore, order: tuple[int, ...]) -> None:
    for i in order:  # the order of measuring does not matter
        store.ingest_run(_run(*_MAIN[i - 1]))
    assert _names(store.list_runs()) == ["c1", "c2", "S", "c4", "c5"]
    latest = store.latest_run()
    assert latest is not None and _NAMES[latest.sha or ""] == "c5"
    assert _baseline_of(store, 4) == ["c1", "c2", "S"]
    assert _baseline_of(store, 5) == ["c1", "c2", "S", "c4"]
    assert _names(store.recent_commit_runs(n=2)) == ["c4", "c5"]
    for series in store.series():
        assert series.run_ids == ("run-c1", "run-c2", "run-c3", "run-c4", "run-c5")
    # what is shown of the commit is untouched: only its place in history moved
    assert store.get_run("run-c3").commit.committed_at == FUTURE  # type: ignore[union-attr]


def test_the_tip_dated_in_the_future_is_the_newest_until_a_child_comes(
        store: HistoryStore) -> None:
    for i in (1, 2, 3):
        store.ingest_run(_run(*_MAIN[i - 1]))
    assert _names(store.recent_commit_runs(n=1)) == ["S"]
    store.ingest_run(_run(*_MAIN[3]))
    assert _names(store.recent_commit_runs(n=1)) == ["c4"]


def test_other_branches_keep_their_place_in_time(store: HistoryStore) -> None:
    """Only the ancestors are moved (down), never the descendants up: a pull request
    measured after c5 still has every main commit before it, S included."""
    for i in (1, 2, 3, 4, 5):
        store.ingest_run(_run(*_MAIN[i - 1]))
    store.ingest_run(_run(7, 16, "2024-05-01T15:00:00+00:00", branch="feature"))
    assert _names(store.list_runs()) == ["c1", "c2", "S", "c4", "c5", "pr"]
    assert _names(store.recent_commit_runs(n=10, branch="main", before_run_id="run-c7",
                                           exclude_sha=sha_of(7))) == [
        "c1", "c2", "S", "c4", "c5"]


def _v7_sqlite(tmp_path: Path) -> Path:
    """A version-7 history (as the code before migration 8 wrote it) of c1 c2 S c4 c5."""
    path = tmp_path / "perf_history.db"
    with HistoryStore.open(path) as store:
        for i in (1, 2, 3, 4, 5):
            store.ingest_run(_run(*_MAIN[i - 1]))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET sort_at = commit_utc")  # version 7: the commit time
    conn.execute("DROP INDEX idx_runs_branch_ordinal")
    conn.execute("ALTER TABLE runs DROP COLUMN commit_utc")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    return path


def test_sqlite_migration_8_keeps_every_row_and_the_next_write_restores_order(
        tmp_path: Path) -> None:
    path = _v7_sqlite(tmp_path)
    before = _rows(path, "SELECT * FROM runs ORDER BY run_id")
    assert _rows(path, "SELECT run_id FROM runs ORDER BY sort_at")[-1] == ("run-c3",)
    with HistoryStore.open(path) as store:
        assert _rows(path, "PRAGMA user_version") == [(schema.LATEST_VERSION,)] == [(8,)]
        assert [r[:-1] for r in _rows(path, "SELECT * FROM runs ORDER BY run_id")] == before
        assert _rows(path, "SELECT count(*) FROM runs WHERE commit_utc = sort_at") == [(5,)]
        assert _rows(path, "SELECT count(*) FROM benchmarks") == [(10,)]
        db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
        schema._migration_8(db)  # a second pass changes nothing
        db.conn.close()
        assert [r[:-1] for r in _rows(path, "SELECT * FROM runs ORDER BY run_id")] == before
        store.record_ancestry_ordinals({})  # what every ingest and measured commit runs
        assert _names(store.list_runs()) == ["c1", "c2", "S", "c4", "c5"]


def test_postgres_migration_3_keeps_every_row_and_the_next_write_restores_order(
        postgres_url: str) -> None:
    with open_history(postgres_url) as store:
        for i in (1, 2, 3, 4, 5):
            store.ingest_run(_run(*_MAIN[i - 1]))
    engine = sa.create_engine(sa.make_url(postgres_url).set(drivername="postgresql+psycopg"))
    columns = "run_id, sha, branch, committed_at, started_at, sort_at, ancestry_ordinal"
    try:
        with engine.begin() as conn:  # back to what version 2 left
            conn.execute(sa.text("UPDATE runs SET sort_at = commit_utc"))
            conn.execute(sa.text("DROP INDEX idx_runs_branch_ordinal"))
            conn.execute(sa.text("ALTER TABLE runs DROP COLUMN commit_utc"))
            conn.execute(sa.text("UPDATE perf_pipeline_schema SET version = 2"))
            before = conn.execute(sa.text(f"SELECT {columns} FROM runs ORDER BY 1")).all()
        with open_history(postgres_url) as store:
            with engine.begin() as conn:
                assert conn.execute(sa.text("SELECT version FROM perf_pipeline_schema")
                                    ).all() == [(pg_schema.LATEST_PG_VERSION,)] == [(3,)]
                assert conn.execute(sa.text(f"SELECT {columns} FROM runs ORDER BY 1")
                                    ).all() == before
                assert conn.execute(sa.text("SELECT count(*) FROM runs "
                                            "WHERE commit_utc = sort_at")).scalar() == 5
                assert conn.execute(sa.text("SELECT count(*) FROM benchmarks")).scalar() == 10
                pg_schema._migration_3(conn)  # a second pass changes nothing
                assert conn.execute(sa.text(f"SELECT {columns} FROM runs ORDER BY 1")
                                    ).all() == before
            store.record_ancestry_ordinals({})
            assert _names(store.list_runs()) == ["c1", "c2", "S", "c4", "c5"]
    finally:
        engine.dispose()


def test_commits_with_a_plausible_time_are_never_moved(store: HistoryStore) -> None:
    """A merged feature branch's commits are on main by reachability, with first-parent
    counts of their own (here higher than main's and older): they order nothing."""
    for i, ordinal, committed_at in _MAIN[:2]:
        store.ingest_run(_run(i, ordinal, committed_at))
    store.ingest_run(_run(6, 40, "2024-04-01T00:00:00+00:00"))
    store.ingest_run(_run(4, 14, "2024-05-01T13:00:00+00:00"))
    assert _names(store.list_runs()) == ["feat", "c1", "c2", "c4"]


def test_a_commit_never_sorts_before_its_parent(store: HistoryStore) -> None:
    """The measuring machine's clock an hour behind: c2 looks dated in the future (its
    run started before its commit time) and is moved, but not before its parent c1."""
    store.ingest_run(_run(1, 11, "2024-05-01T10:00:00+00:00",
                          started_at="2024-05-01T09:05:00+00:00"))
    store.ingest_run(_run(2, 12, "2024-05-01T10:30:00+00:00",
                          started_at="2024-05-01T09:35:00+00:00"))
    assert _names(store.list_runs()) == ["c1", "c2"]
    assert _names(store.recent_commit_runs(n=1)) == ["c2"]


def test_back_filled_ordinals_put_runs_stored_without_one_in_ancestry_order(
        store: HistoryStore) -> None:
    """Runs stored before ordinals were recorded (or plain pytest-benchmark files)."""
    for i in (1, 2, 3, 4, 5):
        _, _, committed_at = _MAIN[i - 1]
        store.ingest_run(_run(i, None, committed_at))
    store.ingest_run(_run(7, 99, "2024-05-01T15:00:00+00:00", branch="feature"))
    assert _names(store.list_runs()) == ["c1", "c2", "c4", "c5", "pr", "S"]
    assert store.commits_without_ordinal() == tuple(sha_of(i) for i in (1, 2, 3, 4, 5))
    ordinals = {sha_of(i): ordinal for i, ordinal, _ in _MAIN}
    assert store.record_ancestry_ordinals({**ordinals, sha_of(7): 1}) == 5
    assert _names(store.list_runs()) == ["c1", "c2", "S", "c4", "c5", "pr"]
    assert store.commits_without_ordinal() == ()
    assert store.get_run("run-c7").commit.ancestry_ordinal == 99  # type: ignore[union-attr]
    assert store.record_ancestry_ordinals(ordinals) == 0  # idempotent
    assert _names(store.list_runs()) == ["c1", "c2", "S", "c4", "c5", "pr"]


def test_restoring_order_costs_a_fixed_number_of_statements(tmp_path: Path) -> None:
    """Every commit's time a few seconds ahead of its run (a committer's clock a minute
    fast, a run started at once): each was skewed, and each cost two statements that
    scanned its branch, so an ingest into 2,000 such commits took seconds (O(n²)). The
    order is now computed in one pass over one query, whatever the number."""
    from perf_pipeline.store.history_order import restore_ancestry_order

    path = tmp_path / "perf_history.db"
    with HistoryStore.open(path) as store:
        for i in range(1, 41):
            store.ingest_run(_run(i, i, f"2024-05-01T{i // 2:02d}:{i % 2 * 30 + 1:02d}:00+00:00",
                                  started_at=f"2024-05-01T{i // 2:02d}:{i % 2 * 30:02d}:30+00:00"))
        assert [r.run_id for r in store.list_runs()] == [f"run-c{i}" for i in range(1, 41)]
    conn = sqlite3.connect(path)
    statements: list[str] = []

    def query(sql: str, args: dict[str, object]) -> list[tuple[object, ...]]:
        statements.append(sql)
        return conn.execute(sql, args).fetchall()

    restore_ancestry_order(query, lambda sql, args: statements.append(sql) or None,
                           branch="main")
    conn.close()
    assert len(statements) <= 2  # nothing left to move: the order was already restored


def test_postgres_back_filling_ordinals_beside_an_ingest_does_not_deadlock(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The back-fill row-locked the runs it gave an ordinal, then waited for the lock of
    history order, held by an ingest that moved one of those runs: PostgreSQL aborted
    the ingest ("deadlock detected") and the measured run was lost."""
    import threading
    import time

    from perf_pipeline.store import postgres

    with open_history(postgres_url) as store:
        store.ingest_run(_run(*_MAIN[1], started_at="2024-05-02T02:00:00+00:00"))
        store.ingest_run(_run(*_MAIN[2], started_at="2024-05-02T03:00:00+00:00"))
        shallow = make_run(3, committed_at=FUTURE, run_id="run-c3-shallow",  # no ordinal
                           started_at="2024-05-02T04:00:00+00:00")
        store.ingest_run(shallow)
    restore = postgres._restore_order

    def slow_restore(conn: sa.Connection, *, branch: str | None) -> None:
        if threading.current_thread().name == "backfill":
            time.sleep(1.0)  # the ingest takes the lock of history order meanwhile
        restore(conn, branch=branch)

    monkeypatch.setattr(postgres, "_restore_order", slow_restore)
    errors: list[BaseException] = []

    def backfill() -> None:
        try:
            with open_history(postgres_url) as store:
                store.record_ancestry_ordinals({sha_of(3): 13})
        except BaseException as exc:
            errors.append(exc)

    def ingest() -> None:
        time.sleep(0.3)
        try:
            with open_history(postgres_url) as store:  # S's child: S moves down
                store.ingest_run(_run(*_MAIN[3], started_at="2024-05-02T05:00:00+00:00"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=backfill, name="backfill"),
               threading.Thread(target=ingest)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_history(postgres_url) as store:
        assert [r.run_id for r in store.list_runs()] == [
            "run-c2", "run-c3", "run-c3-shallow", "run-c4"]


def test_a_commit_no_longer_skewed_after_delete_run_goes_back_to_its_time(
        store: HistoryStore) -> None:
    """C's first run (started 10:05, a clock behind) made its 10:30 commit time look
    wrong; once that run is deleted, C sorted at 10:00 for ever, before a pull
    request's commit of 10:20, unlike a history that never held the deleted run."""
    store.ingest_run(_run(1, 1, "2024-05-01T10:00:00+00:00",
                          started_at="2024-05-01T10:01:00+00:00"))
    early = _run(2, 2, "2024-05-01T10:30:00+00:00", started_at="2024-05-01T10:05:00+00:00")
    store.ingest_run(dataclasses.replace(early, run_id="run-c2-early"))
    store.ingest_run(_run(2, 2, "2024-05-01T10:30:00+00:00",
                          started_at="2024-05-01T11:00:00+00:00"))
    store.ingest_run(_run(7, 9, "2024-05-01T10:20:00+00:00", branch="pr",
                          started_at="2024-05-01T10:40:00+00:00"))
    assert [r.run_id for r in store.list_runs()] == [
        "run-c1", "run-c2-early", "run-c2", "run-c7"]
    store.delete_run("run-c2-early")
    assert [r.run_id for r in store.list_runs()] == ["run-c1", "run-c7", "run-c2"]
