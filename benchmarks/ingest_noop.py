"""Incremental ingest: a results dir of 1,000 raw runs, ingested again with nothing new.

Run by hand (about a minute, mostly writing the runs):

    uv run python benchmarks/ingest_noop.py
    uv run python benchmarks/ingest_noop.py --runs 100        # quick look

It writes ``--runs`` raw run dirs (``write_raw_run``, as ``measure_commit`` leaves them:
``run.json`` + ``benchmark.json.gz``) of ``--benchmarks`` benchmarks each, ingests them
once, then times a second ingest that finds nothing new: ``ingest_results_dir`` in this
process, and the whole ``perf-pipeline ingest`` command in a fresh process (interpreter
start-up and imports included). Before issue 9 the second ingest parsed every run's JSON
again (26 s for 8 fast-benchmark commits) and re-stored older runs of re-measured
commits. Target: a no-op ingest of 1,000 runs in under 1 s, reporting 0 new runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from perf_pipeline.measure import ingest_results_dir, write_raw_run
from perf_pipeline.store import HistoryStore


def benchmark_json(path: Path, *, n: int, rng: random.Random) -> None:
    benchmarks = []
    for b in range(n):
        data = [rng.lognormvariate(-7 + b % 5, 0.05) for _ in range(20)]
        benchmarks.append({"name": f"test_{b}", "fullname": f"tests/test_x.py::test_{b}",
                           "group": None, "params": None,
                           "stats": {"data": data, "iterations": 1, "rounds": len(data),
                                     "median": sorted(data)[10]}})
    path.write_text(json.dumps({"benchmarks": benchmarks, "datetime": "2026-01-01T00:00:00",
                                "version": "5.1.0"}))


def write_runs(raw: Path, *, runs: int, benchmarks: int) -> None:
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    scratch = raw.parent / "scratch.json"
    for i in range(runs):
        benchmark_json(scratch, n=benchmarks, rng=rng)
        when = (start + timedelta(hours=i)).isoformat()
        write_raw_run(raw, {
            "run_id": f"{start + timedelta(hours=i):%Y%m%dT%H%M%S}Z-{i:08x}",
            "suite": "benchmarks", "status": "success",
            "commit": {"sha": f"{i // 2:040x}", "branch": "main", "message": "m",
                       "author": "a", "committed_at": when, "dirty": False},
            "started_at": when, "duration_s": 1.0, "error": None, "benchmark_files": 1},
            benchmark_json=scratch)  # two runs per commit: replicates
    scratch.unlink()


def _child(argv: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of a child: on a shared machine wall time is mostly
    waiting, CPU time is what the command costs."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed: {out}")
    return wall, usage.ru_utime + usage.ru_stime, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--benchmarks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perf-noop-") as tmp:
        results = Path(tmp) / "test-results"
        results.mkdir()
        start = time.perf_counter()
        write_runs(results / "raw", runs=args.runs, benchmarks=args.benchmarks)
        print(f"wrote {args.runs} raw runs of {args.benchmarks} benchmarks in "
              f"{time.perf_counter() - start:.1f} s")
        db = results / "perf_history.db"
        with HistoryStore.open(db) as store:
            start = time.perf_counter()
            first = ingest_results_dir(results, store)
            print(f"first ingest: {len(first.ingested)} new runs in "
                  f"{time.perf_counter() - start:.1f} s")
            times = []
            for _ in range(3):
                start = time.perf_counter()
                again = ingest_results_dir(results, store)
                times.append(time.perf_counter() - start)
                assert not again.ingested and len(again.skipped) == args.runs
        print(f"no-op ingest_results_dir (in process): best of 3 {min(times) * 1e3:.0f} ms, "
              f"{len(again.ingested)} new runs")
        walls, cpus = [], []
        out = ""
        for _ in range(3):
            wall, cpu, out = _child([sys.executable, "-m", "perf_pipeline", "ingest",
                                     "--results-dir", str(results)])
            walls.append(wall)
            cpus.append(cpu)
        print(f"no-op `perf-pipeline ingest` (fresh process, start-up included): best of 3 "
              f"{min(walls):.2f} s wall, {min(cpus):.2f} s CPU   [{out.splitlines()[-1]}]")
        wall, cpu, _ = _child([sys.executable, "-c",
                               "import perf_pipeline.cli, perf_pipeline.measure"])
        print(f"  of which interpreter start-up + imports: {wall:.2f} s wall, {cpu:.2f} s CPU "
              f"(sqlite_utils imports pandas when it is installed)")
        best = min(times)
        print(f"target: no-op ingest of {args.runs} runs < 1 s -> "
              f"{'met' if best < 1 else 'MISSED'} in process, "
              f"{'met' if min(cpus) < 1 else 'missed'} for the whole command's CPU time, "
              f"{'met' if min(walls) < 1 else 'missed'} for its wall time")


if __name__ == "__main__":
    main()
