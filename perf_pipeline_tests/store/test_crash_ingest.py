"""SIGKILL during ingest, at seeded random moments: the history stays whole.

A child process imports everything, says "ready", then ingests a folder of results
files; the parent kills it with SIGKILL after a random delay inside the ingest's
measured duration. After every kill: ``PRAGMA integrity_check`` passes, every stored
run is complete (all its benchmarks and their time rows, nothing partial), and an
ingest in this process finishes the job (every file stored once); a further ingest
adds nothing. ``PERF_PIPELINE_CRASH_KILLS`` sets the number of kills (default 10;
the README's figure is 40).
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perf_pipeline.measure import ingest_results_dir
from perf_pipeline.store import HistoryStore

KILLS = int(os.environ.get("PERF_PIPELINE_CRASH_KILLS", "10"))
GOOD = Path(__file__).resolve().parents[1] / "data" / "pytest_benchmark_good.json"
FILES = 8
BENCHMARKS = 30

CHILD = textwrap.dedent('''
    import sys, tempfile, time
    from pathlib import Path
    from perf_pipeline.measure import ingest_results_dir
    from perf_pipeline.store import HistoryStore

    folder = Path(sys.argv[1])
    # The store imports sqlite_utils at first use: warm it up here, or the measured
    # "ingest" was mostly that import, and the seeded kills all landed before the
    # history existed (no kill inside the ingest, on a loaded machine).
    with tempfile.TemporaryDirectory() as warm, HistoryStore.open(Path(warm) / "w.db"):
        pass
    print("ready", flush=True)
    start = time.perf_counter()
    with HistoryStore.open(folder / "perf_history.db") as store:
        ingest_results_dir(folder, store)
    print(time.perf_counter() - start, flush=True)
''')


def _write_results(folder: Path) -> dict[str, int]:
    """FILES results files of different commits; returns file name -> benchmark count."""
    doc = json.loads(GOOD.read_text())
    template = doc["benchmarks"][0]
    rng = random.Random(3)
    expected = {}
    for f in range(FILES):
        copy_doc = copy.deepcopy(doc)
        copy_doc["commit_info"]["id"] = f"{f + 1:040x}"
        copy_doc["datetime"] = f"2026-01-{f + 1:02d}T10:00:00+00:00"
        benches = []
        for b in range(BENCHMARKS):
            bench = copy.deepcopy(template)
            bench["fullname"] = f"t.py::test_{b}"
            bench["stats"]["data"] = [rng.uniform(1e-5, 2e-5) for _ in range(300)]
            benches.append(bench)
        copy_doc["benchmarks"] = benches
        (folder / f"run-{f:02d}.json").write_text(json.dumps(copy_doc))
        expected[f"run-{f:02d}.json"] = BENCHMARKS
    return expected


def _start_child(folder: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _check_whole(db: Path) -> int:
    """Integrity and completeness; the number of runs stored."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return 0  # killed before the first migration committed: an empty db
        runs = [r for (r,) in conn.execute("SELECT run_id FROM runs")]
        for run_id in runs:
            n_bench = conn.execute("SELECT COUNT(*) FROM benchmarks WHERE run_id = ?",
                                   (run_id,)).fetchone()[0]
            n_time = conn.execute("SELECT COUNT(*) FROM results WHERE run_id = ? AND "
                                  "metric = 'time_s'", (run_id,)).fetchone()[0]
            assert n_bench == n_time == BENCHMARKS, (run_id, n_bench, n_time)
        orphans = conn.execute("SELECT COUNT(*) FROM results WHERE run_id NOT IN "
                               "(SELECT run_id FROM runs)").fetchone()[0]
        assert orphans == 0
        return len(runs)
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_during_ingest_never_leaves_a_partial_or_corrupt_history(tmp_path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    _write_results(source)
    # How long an uninterrupted ingest takes here, after imports.
    calibrate = tmp_path / "calibrate"
    calibrate.mkdir()
    for f in source.iterdir():
        (calibrate / f.name).write_bytes(f.read_bytes())
    proc = _start_child(calibrate)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    duration = float(out.strip())
    rng = random.Random(20240610)
    killed_mid_way = 0
    for k in range(KILLS):
        folder = tmp_path / f"kill-{k}"
        folder.mkdir()
        for f in source.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        proc = _start_child(folder)
        time.sleep(rng.uniform(0, duration * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        db = folder / "perf_history.db"
        if db.exists():
            stored = _check_whole(db)
            killed_mid_way += 0 < stored < FILES
        with HistoryStore.open(db) as store:
            first = ingest_results_dir(folder, store)
            again = ingest_results_dir(folder, store)
        assert first.errors == () and again.errors == ()
        assert again.ingested == ()
        assert _check_whole(db) == FILES
    assert killed_mid_way > 0 or KILLS < 5  # the kills did land inside the ingest
