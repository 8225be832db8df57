"""Two processes writing one history db at once: both succeed, nothing is lost."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from perf_pipeline.errors import StoreError
from perf_pipeline.store import HistoryStore

from .conftest import make_run

RUNS_PER_WORKER = 15


def _ingest_worker(db: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    """Open the (maybe not yet created) db and ingest runs as fast as possible."""
    start.wait(timeout=30)
    with HistoryStore.open(Path(db), timeout_s=30) as store:
        for i in range(RUNS_PER_WORKER):
            run = make_run(worker * 1000 + i, run_id=f"w{worker}-{i}",
                           names=tuple(f"test_{k}" for k in range(50)))
            assert store.ingest_run(run)


@pytest.mark.slow
def test_two_processes_ingest_into_one_new_db(tmp_path: Path) -> None:
    db = tmp_path / "shared" / "perf_history.db"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_ingest_worker, args=(str(db), w, start)) for w in (1, 2)]
    for p in workers:
        p.start()
    start.set()  # both open the fresh db (and race to migrate it) at the same moment
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0]
    with HistoryStore.open(db) as store:
        ids = {r.run_id for r in store.list_runs()}
        assert ids == {f"w{w}-{i}" for w in (1, 2) for i in range(RUNS_PER_WORKER)}
        assert len(store.benchmark_names()) == 50
        assert store.get_run("w2-3") == make_run(2003, run_id="w2-3",
                                                 names=tuple(f"test_{k}" for k in range(50)))


def test_a_writer_waits_for_the_lock_then_times_out_with_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    HistoryStore.open(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with HistoryStore.open(db, timeout_s=0.3) as store:
            assert store.list_runs() == ()  # WAL: reading is not blocked by the writer
            with pytest.raises(StoreError, match=r"h\.db.*locked"):
                store.ingest_run(make_run(1))
            holder.execute("COMMIT")
            assert store.ingest_run(make_run(1))
    finally:
        holder.close()
