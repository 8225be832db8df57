"""Scale benchmark of the history store: 500 benchmarks x 1000 runs x 20 samples.

Run by hand (takes a few minutes, writes ~100 MB to a temp dir that is removed):

    uv run python benchmarks/store_scale.py
    uv run python benchmarks/store_scale.py --benchmarks 50 --runs 100   # quick look
    uv run python benchmarks/store_scale.py --history postgresql://u:pw@host/emptydb

``--history`` measures a PostgreSQL history instead (an empty database: its tables are
created, and left behind).

It reports the cost of ``ingest_run`` per run, of ``series()`` over the whole history,
of the other queries the pipeline runs per commit, the database size, and compares
the two ways of storing raw samples (float64 BLOB vs JSON text).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from perf_pipeline.model import (
    BenchmarkResult,
    CommitInfo,
    Environment,
    RunStatus,
    SuiteRun,
)
from perf_pipeline.store import open_history
from perf_pipeline.store.samples import decode_samples, encode_samples

_ENV = Environment(python_version="3.11.7", python_implementation="CPython", os="Linux",
                   machine="x86_64", cpu_model="bench", cpu_count=2,
                   packages=(("numpy", "2.0"), ("pandas", "2.2")))


def make_run(index: int, *, n_benchmarks: int, n_samples: int, rng: random.Random) -> SuiteRun:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=index)
    benchmarks = tuple(
        BenchmarkResult(
            name=f"tests/ml/test_perf.py::test_case_{b:04d}[param-{b % 7}]",
            samples_s=tuple(rng.lognormvariate(-6 + b % 5, 0.05) for _ in range(n_samples)),
            group=f"group-{b % 10}",
            params=(("param", str(b % 7)),),
            iterations=1,
            extra=(("peak_rss_bytes", float(1_000_000 + b)),),
        )
        for b in range(n_benchmarks))
    return SuiteRun(
        run_id=f"run-{index:05d}", suite="benchmarks", started_at=start.isoformat(),
        status=RunStatus.SUCCESS, benchmarks=benchmarks,
        commit=CommitInfo(sha=f"{index:040x}", branch="main", message=f"commit {index}",
                          author="bench", committed_at=start.isoformat()),
        environment=_ENV, duration_s=60.0)


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def compare_sample_encodings(rng: random.Random) -> None:
    print("\nsample storage, per benchmark row (float64 BLOB vs JSON text):")
    for n in (20, 200):
        samples = [rng.lognormvariate(-6, 0.3) for _ in range(n)]
        blob = encode_samples(samples)
        text = json.dumps(samples)
        t_blob, _ = _timed(lambda b=blob: [decode_samples(b, what="x") for _ in range(1000)])
        t_json, _ = _timed(lambda t=text: [tuple(json.loads(t)) for _ in range(1000)])
        e_blob, _ = _timed(lambda s=samples: [encode_samples(s) for _ in range(1000)])
        e_json, _ = _timed(lambda s=samples: [json.dumps(s) for _ in range(1000)])
        total = 500 * 1000 * n
        print(f"  {n:3d} samples: BLOB {len(blob):5d} B, JSON {len(text):5d} B "
              f"({len(text) / len(blob):.1f}x);  encode {e_blob * 1e3:.2f} vs "
              f"{e_json * 1e3:.2f} us, decode {t_blob * 1e3:.2f} vs {t_json * 1e3:.2f} us; "
              f"500x1000 runs: {total * 8 / 1e9:.2f} GB vs "
              f"{total * len(text) / n / 1e9:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--history", help="a postgresql:// URL of an empty database "
                                          "(default: a SQLite file in a temp dir)")
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "perf_history.db"
        ingest_s: list[float] = []
        build_s = 0.0
        with open_history(args.history or path) as store:
            for i in range(args.runs):
                t0 = time.perf_counter()
                run = make_run(i, n_benchmarks=args.benchmarks, n_samples=args.samples, rng=rng)
                t1 = time.perf_counter()
                store.ingest_run(run)
                ingest_s.append(time.perf_counter() - t1)
                build_s += t1 - t0
                if (i + 1) % 100 == 0:
                    print(f"  ingested {i + 1} runs", flush=True)
            qs = statistics.quantiles(ingest_s, n=20)
            print(f"\n{store.target}: {args.benchmarks} benchmarks x {args.runs} runs x "
                  f"{args.samples} samples")
            print(f"ingest_run per run: median {statistics.median(ingest_s) * 1e3:.1f} ms, "
                  f"p95 {qs[18] * 1e3:.1f} ms, total {sum(ingest_s):.1f} s "
                  f"(building the SuiteRun objects: {build_s:.1f} s)")
            t, series = _timed(lambda: store.series(metrics=("time_s",)))
            print(f"series() time_s, all benchmarks: {t:.2f} s for {len(series)} series x "
                  f"{len(series[0].values)} runs")
            t, series = _timed(lambda: store.series(metrics=("time_s", "peak_rss_bytes")))
            print(f"series() time_s + peak_rss_bytes: {t:.2f} s for {len(series)} series")
            name = series[0].name
            t, _ = _timed(lambda: store.series(names=(name,)))
            print(f"series(names=[one]): {t * 1e3:.1f} ms")
            t, _ = _timed(lambda: store.recent_runs(n=10))
            print(f"recent_runs(n=10) (complete runs with samples): {t * 1e3:.0f} ms")
            t, _ = _timed(lambda: store.list_runs(suite="benchmarks"))
            print(f"list_runs(): {t * 1e3:.1f} ms")
            t, _ = _timed(lambda: store.get_run(f"run-{args.runs // 2:05d}"))
            print(f"get_run(): {t * 1e3:.1f} ms")
            t, _ = _timed(lambda: store.benchmark_names())
            print(f"benchmark_names(): {t * 1e3:.0f} ms")
        if args.history:
            return
        # Closing the last connection checkpoints the WAL into the db file.
        print(f"db size: {path.stat().st_size / 1e6:.1f} MB "
              f"({path.stat().st_size / (args.runs * args.benchmarks):.0f} B per benchmark-run)")
    compare_sample_encodings(rng)


if __name__ == "__main__":
    main()
