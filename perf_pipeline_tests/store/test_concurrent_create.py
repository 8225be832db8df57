"""N processes creating, migrating and writing one NEW history db at the same instant.

Each round starts 4 fresh processes that import everything first, wait for a common
"go" file, then open (create, set WAL, migrate) the same not-yet-existing db and ingest
one run each. ``PERF_PIPELINE_CONCURRENCY_ROUNDS`` (default 1) repeats this with a new
db per round: the README's 4 x 4 figure is ``PERF_PIPELINE_CONCURRENCY_ROUNDS=4``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perf_pipeline.store import HistoryStore

ROUNDS = int(os.environ.get("PERF_PIPELINE_CONCURRENCY_ROUNDS", "1"))
PROCESSES = 4

CHILD = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from perf_pipeline_tests.store.conftest import make_run
    from perf_pipeline.store import HistoryStore

    db, index, ready, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    ready.write_text("ready")
    while not go.exists():
        time.sleep(0.0005)
    with HistoryStore.open(db) as store:
        assert store.ingest_run(make_run(index, run_id=f"proc-{index}"))
    print("ok")
''')


def _one_round(tmp: Path) -> list[tuple[int, str]]:
    db = tmp / "results" / "perf_history.db"
    go = tmp / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = []
    for i in range(PROCESSES):
        ready = tmp / f"ready-{i}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(i), str(ready), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.01)
    assert not db.exists()
    go.write_text("go")
    failures = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0 or out.strip() != "ok":
            failures.append((proc.returncode, err[-2000:]))
    with HistoryStore.open(db) as store:
        assert sorted(r.run_id for r in store.list_runs()) == [
            f"proc-{i}" for i in range(PROCESSES)]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    return failures


@pytest.mark.slow
def test_four_processes_create_migrate_and_write_one_new_db(tmp_path: Path) -> None:
    failures = []
    for r in range(ROUNDS):
        folder = tmp_path / f"round-{r}"
        folder.mkdir()
        failures += _one_round(folder)
    assert failures == []
