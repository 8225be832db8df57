"""What one run of fast benchmarks costs on disk: raw files + history db (issue 9).

Run by hand (about 1-2 minutes: the suite really runs, in 3 pytest processes):

    uv run python benchmarks/sample_storage.py
    uv run python benchmarks/sample_storage.py --benchmarks 4 --processes 1   # quick look

It writes a suite of ``--benchmarks`` sub-microsecond benchmarks (``1 + 1``, a dict
lookup, ...), runs it with pytest-benchmark's default settings (which take hundreds of
thousands of rounds of such a function) in ``--processes`` fresh processes, as
``measure_commit`` does, then keeps the files as a raw run dir (``write_raw_run``) and
ingests the run into a fresh history db (``HistoryStore.ingest_run``). It prints:

- the plain JSON pytest-benchmark wrote (what a raw run dir held before issue 9);
- the raw run dir as kept now (``benchmark*.json.gz``, samples sorted) and the db;
- the target: raw + db <= 2 MB per run;
- the sample encodings we considered, in bytes per sample, on these very samples:
  float64 in round order (the old BLOB), zlib and lzma of it (order kept), gzip of the
  JSON text in round order, and sorted float64 + zlib (what the store keeps);
- the time to compact the files and to ingest the run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import subprocess
import sys
import tempfile
import time
import zlib
from array import array
from pathlib import Path

from perf_pipeline.measure import load_results, write_raw_run
from perf_pipeline.store import HistoryStore

_BODIES = ("1 + 1", "d.get('a')", "len(s)", "x * 2.5", "t[1]", "'a' in d", "abs(-3)",
           "s[:2]", "max(1, 2)", "str(7)", "(1, 2)", "x or 1", "[1, 2]", "d['a']",
           "s.upper()", "int('7')")


def write_suite(dest: Path, n: int) -> Path:
    lines = ["d = {'a': 1}", "s = 'abc'", "x = 3.0", "t = (1, 2, 3)", ""]
    for i in range(n):
        body = _BODIES[i % len(_BODIES)]
        lines += [f"def test_fast_{i:02d}(benchmark):", f"    benchmark(lambda: {body})", ""]
    path = dest / "test_fast.py"
    path.write_text("\n".join(lines))
    return path


def run_process(suite: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    str(suite), f"--benchmark-json={out}"], check=True,
                   capture_output=True, cwd=suite.parent)
    return time.perf_counter() - start


def encodings(files: list[Path]) -> None:
    samples: list[list[float]] = []
    for path in files:
        for bench in json.loads(path.read_bytes())["benchmarks"]:
            samples.append(bench["stats"]["data"])
    n = sum(len(s) for s in samples)
    sizes = {"float64, round order (old BLOB)": 0, "zlib of that": 0, "lzma of that": 0,
             "gzip of JSON text, round order": 0, "sorted float64 + zlib (stored)": 0,
             "gzip of sorted JSON text (raw kept)": 0}
    for data in samples:
        plain = array("d", data).tobytes()
        sizes["float64, round order (old BLOB)"] += len(plain)
        sizes["zlib of that"] += len(zlib.compress(plain, 6))
        sizes["lzma of that"] += len(lzma.compress(plain))
        sizes["gzip of JSON text, round order"] += len(gzip.compress(json.dumps(data).encode(),
                                                                     6))
        sizes["sorted float64 + zlib (stored)"] += len(zlib.compress(
            array("d", sorted(data)).tobytes(), 6))
        sizes["gzip of sorted JSON text (raw kept)"] += len(gzip.compress(
            json.dumps(sorted(data)).encode(), 6))
    print(f"\nencodings of the same {n:,} samples (bytes per sample; MB for the run):")
    for name, size in sizes.items():
        print(f"  {name:38s} {size / n:6.3f} B  {size / 1e6:7.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=int, default=12)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perf-storage-") as tmp:
        root = Path(tmp)
        suite = write_suite(root, args.benchmarks)
        files = []
        for p in range(1, args.processes + 1):
            out = root / f"process-{p}.json"
            seconds = run_process(suite, out)
            files.append(out)
            print(f"process {p}: {seconds:.1f} s, {out.stat().st_size / 1e6:.1f} MB of JSON")
        doc = json.loads(files[0].read_bytes())
        rounds = [b["stats"]["rounds"] for b in doc["benchmarks"]]
        plain_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"{args.benchmarks} benchmarks, rounds per process {min(rounds):,}-"
              f"{max(rounds):,}; plain JSON as written: {plain_mb:.1f} MB per run")

        record = {"run_id": "20260101T000000Z-00000001", "suite": "benchmarks",
                  "status": "success", "commit": {"sha": "a" * 40, "branch": "main",
                                                  "message": "m", "author": "a",
                                                  "committed_at": "2026-01-01T00:00:00Z",
                                                  "dirty": False},
                  "started_at": "2026-01-01T00:00:00Z", "duration_s": 1.0, "error": None,
                  "benchmark_files": len(files)}
        start = time.perf_counter()
        run_dir = write_raw_run(root / "raw", record, benchmark_json=files[0],
                                more_benchmark_json=files[1:])
        compact_s = time.perf_counter() - start
        start = time.perf_counter()
        run = load_results(run_dir)
        load_s = time.perf_counter() - start
        db_path = root / "perf_history.db"
        start = time.perf_counter()
        with HistoryStore.open(db_path) as store:
            store.ingest_run(run)
        ingest_s = time.perf_counter() - start  # closing checkpoints the WAL into the file
        raw_mb = sum(p.stat().st_size for p in run_dir.iterdir()) / 1e6
        db_mb = db_path.stat().st_size / 1e6
        empty = root / "empty.db"
        HistoryStore.open(empty).close()
        empty_mb = empty.stat().st_size / 1e6
        samples = sum(len(b.samples_s) for b in run.benchmarks)
        names = ", ".join(sorted(p.name for p in run_dir.iterdir()))
        print(f"\nkept now: raw run dir {raw_mb:.2f} MB ({names}); "
              f"db {db_mb:.2f} MB (an empty db is {empty_mb:.2f} MB)")
        total = raw_mb + db_mb - empty_mb
        print(f"per run on disk: {total:.2f} MB (target <= 2 MB: "
              f"{'met' if total <= 2 else 'MISSED'}); before: {plain_mb:.1f} MB raw + the "
              f"db's {samples * 8 / 1e6:.1f} MB of float64 samples")
        print(f"time: compact raw files {compact_s:.1f} s, load the run dir {load_s:.1f} s, "
              f"ingest {ingest_s:.1f} s ({samples:,} samples)")
        encodings(files)


if __name__ == "__main__":
    main()
