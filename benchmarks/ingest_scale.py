"""Ingest benchmark: one million raw samples from pytest-benchmark JSON into the history.

Run by hand:

    uv run python benchmarks/ingest_scale.py                  # 1,000,000 samples
    uv run python benchmarks/ingest_scale.py --files 2        # quick look

It writes ``--files`` pytest-benchmark JSON files (``--benchmarks`` each, ``--samples``
raw samples per benchmark, default 20 x 100 x 500 = 1M samples, commit info included as
``--benchmark-autosave`` writes it) to a temp dir, then runs the real command a user runs,
``python -m perf_pipeline ingest --results-dir DIR``, in a child process. The figures are
that child's wall time and peak RSS (``os.wait4``), so interpreter start-up and imports
count too, plus the in-process time of ``ingest_results_dir`` alone from a second, fresh
child. Targets (issue 2): at most 5 s and under 500 MB on 2 cores.
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

_IN_PROCESS = """
import sys, time
from pathlib import Path
from perf_pipeline.measure import ingest_results_dir
from perf_pipeline.store import HistoryStore
results = Path(sys.argv[1])
start = time.perf_counter()
with HistoryStore.open(results / "perf_history.db") as store:
    summary = ingest_results_dir(results, store)
elapsed = time.perf_counter() - start
assert not summary.errors, summary.errors
print(f"{elapsed:.3f} {len(summary.ingested)}")
"""


def _stats(samples: list[float]) -> dict[str, object]:
    ordered = sorted(samples)
    n = len(ordered)
    mean = sum(ordered) / n
    return {"min": ordered[0], "max": ordered[-1], "mean": mean,
            "stddev": (sum((x - mean) ** 2 for x in ordered) / (n - 1)) ** 0.5,
            "rounds": n, "median": ordered[n // 2], "iqr": ordered[3 * n // 4] - ordered[n // 4],
            "q1": ordered[n // 4], "q3": ordered[3 * n // 4], "iqr_outliers": 0,
            "stddev_outliers": 0, "outliers": "0;0", "ld15iqr": ordered[0],
            "hd15iqr": ordered[-1], "ops": 1 / mean, "total": sum(ordered), "iterations": 1,
            "data": samples}


def write_files(dest: Path, *, files: int, benchmarks: int, samples: int, seed: int) -> int:
    """pytest-benchmark JSON files as ``--benchmark-json`` writes them; returns samples."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    total = 0
    for f in range(files):
        when = (start + timedelta(hours=f)).isoformat()
        doc = {
            "machine_info": {"node": "bench", "processor": "x86_64", "machine": "x86_64",
                             "python_implementation": "CPython", "python_version": "3.11.7",
                             "release": "6.1", "system": "Linux",
                             "cpu": {"brand_raw": "bench cpu", "count": 2}},
            "commit_info": {"id": f"{f + 1:040x}", "time": when, "dirty": False,
                            "project": "bench", "branch": "main"},
            "benchmarks": [],
            "datetime": when,
            "version": "5.1.0",
        }
        for b in range(benchmarks):
            data = [rng.lognormvariate(-7 + b % 5, 0.05) for _ in range(samples)]
            total += len(data)
            doc["benchmarks"].append({
                "group": f"group-{b % 10}", "name": f"test_case_{b:03d}",
                "fullname": f"tests/test_perf.py::test_case_{b:03d}", "params": None,
                "param": None, "extra_info": {}, "options": {}, "stats": _stats(data)})
        (dest / f"{f + 1:04d}_bench.json").write_text(json.dumps(doc))
    return total


def _child(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process; its CPU time (what
    the command costs when the shared machine is busy) is printed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[2:]} failed:\n{out}\n{err}")
    label = "ingest command" if "ingest" in argv else "ingest_results_dir"
    print(f"  [{label}: {usage.ru_utime + usage.ru_stime:.2f} s CPU]")
    return wall, usage.ru_maxrss / 1024, out.strip()  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--benchmarks", type=int, default=100)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perf-ingest-") as tmp:
        cli_dir, api_dir = Path(tmp) / "cli", Path(tmp) / "api"
        cli_dir.mkdir()
        api_dir.mkdir()
        n = write_files(cli_dir, files=args.files, benchmarks=args.benchmarks,
                        samples=args.samples, seed=args.seed)
        write_files(api_dir, files=args.files, benchmarks=args.benchmarks,
                    samples=args.samples, seed=args.seed)
        size_mb = sum(p.stat().st_size for p in cli_dir.iterdir()) / 1e6
        print(f"{n:,} samples in {args.files} files x {args.benchmarks} benchmarks "
              f"({size_mb:.0f} MB of JSON)")

        wall, rss, out = _child([sys.executable, "-m", "perf_pipeline", "ingest",
                                 "--results-dir", str(cli_dir)])
        print(f"perf-pipeline ingest (whole command, fresh process): {wall:.2f} s, "
              f"peak RSS {rss:.0f} MB   [{out}]")
        again, _, out = _child([sys.executable, "-m", "perf_pipeline", "ingest",
                                "--results-dir", str(cli_dir)])
        print(f"same command again (nothing new to store):          {again:.2f} s   [{out}]")
        _, rss_api, out = _child([sys.executable, "-c", _IN_PROCESS, str(api_dir)])
        seconds, runs = out.split()
        print(f"ingest_results_dir alone (no start-up):              {float(seconds):.2f} s "
              f"for {runs} runs, {n / float(seconds) / 1e6:.2f} M samples/s, "
              f"process peak RSS {rss_api:.0f} MB")
        db_mb = (cli_dir / "perf_history.db").stat().st_size / 1e6
        print(f"database size: {db_mb:.0f} MB")
        print(f"targets: <= 5 s -> {'met' if wall <= 5 else 'MISSED'}; "
              f"< 500 MB -> {'met' if rss < 500 else 'MISSED'}")


if __name__ == "__main__":
    main()
