"""Where a round's noise comes from: the moment, the process, or the machine as a whole.

Run by hand:  uv run python benchmarks/noise_layouts.py [--pairs 15] [--windows 4]

An A/B round's value per side is the fastest sample of two fresh processes
(``AB_PROCESSES``). Two cheaper or quieter layouts look plausible, and this script
measures both on the machine at hand, with three workloads of the example target
(``feature_store`` join, ``online_lookup``, ``batch_inference``), each timed in
``--windows`` separate windows of 0.3 s per process (the fastest sample of each window,
as pytest-benchmark's ``min`` of a benchmark):

* **the two sides at the same moment**, one process pinned to each core, against the
  two one after the other on one core: if the slow phases of a shared VM hit both cores
  at once, a simultaneous pair's ratio would cancel them;
* **several windows in one process** against one window in each of several processes:
  if the noise is the moment's, not the process's, one process measuring a benchmark
  twice, apart in time, would do what two processes do, without the second start-up.

It prints, per workload, the spread (sd of ln) of a window's A/B log-ratio for both
pairings, and of one side's value for each layout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ml_pipeline"
WORKLOADS = ("feature_store", "online_lookup", "batch_inference")
WINDOW_S = 0.3
MIN_SAMPLES = 10


def _workloads() -> dict[str, Callable[[], object]]:
    sys.path.insert(0, str(EXAMPLE))
    from core.model import predict_batch
    from tests.ml.integration.shared_state import N_ENTITIES, build_pipeline

    p = build_pipeline()
    ids = list(range(0, N_ENTITIES, 4))
    return {"feature_store": lambda: p.offline.get_historical_features(p.labels),
            "online_lookup": lambda: p.online.get_online_features(ids),
            "batch_inference": lambda: predict_batch(p.model, p.joined)}


def worker(out: Path, windows: int, core: int | None) -> None:
    """One fresh process: each workload's fastest sample in each of ``windows`` windows,
    the workloads taking turns, so a workload's windows are about a second apart."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    work = _workloads()
    best: dict[str, list[float]] = {name: [] for name in WORKLOADS}
    for _ in range(windows):
        for name in WORKLOADS:
            f = work[name]
            f()  # warm-up
            fastest, n, end = math.inf, 0, time.perf_counter() + WINDOW_S
            while time.perf_counter() < end or n < MIN_SAMPLES:
                t0 = time.perf_counter()
                f()
                fastest = min(fastest, time.perf_counter() - t0)
                n += 1
            best[name].append(fastest)
    out.write_text(json.dumps(best))


def _start(out: Path, windows: int, core: int | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    args = [sys.executable, __file__, "--worker", str(out), "--windows", str(windows)]
    if core is not None:
        args += ["--core", str(core)]
    return subprocess.Popen(args, cwd=EXAMPLE, env=env)


def _wait(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a worker failed (exit {proc.returncode})")


def _sd(xs: list[float]) -> float:
    return statistics.stdev(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--core", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.windows, args.core)
        return
    if args.windows < 2 or args.pairs < 3:
        raise SystemExit("need --windows >= 2 and --pairs >= 3")
    two_cores = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    if not two_cores:
        raise SystemExit("the simultaneous layout needs two cores this process may use")
    runs: dict[str, list[tuple[dict, dict]]] = {"together": [], "in turn": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            a, b = Path(tmp) / f"t{i}a.json", Path(tmp) / f"t{i}b.json"
            _wait(_start(a, args.windows, 0), _start(b, args.windows, 1))
            c, d = Path(tmp) / f"s{i}a.json", Path(tmp) / f"s{i}b.json"
            _wait(_start(c, args.windows, 0))
            _wait(_start(d, args.windows, 0))
            runs["together"].append((json.loads(a.read_text()), json.loads(b.read_text())))
            runs["in turn"].append((json.loads(c.read_text()), json.loads(d.read_text())))
            print(f"pair {i + 1}/{args.pairs}", file=sys.stderr)
    print(f"\n{args.pairs} pairs at the same moment (one core each) and {args.pairs} in "
          f"turn (one core); {args.windows} windows of {WINDOW_S} s per workload and "
          "process. sd of ln:\n")
    print("| workload | window log-ratio, same moment | window log-ratio, in turn | "
          "1 process x 1 window | 1 process x 2 windows | 2 processes x 1 window | "
          f"1 process x {args.windows} windows | 2 processes x 2 windows |")
    print("|---|---|---|---|---|---|---|---|")
    procs = [p for pair in runs["in turn"] for p in pair]
    for name in WORKLOADS:
        ratio = {kind: [math.log(y / x) for a, b in pairs
                        for x, y in zip(a[name], b[name], strict=True)]
                 for kind, pairs in runs.items()}
        one = [math.log(p[name][0]) for p in procs]
        two_windows = [math.log(min(p[name][:2])) for p in procs]
        all_windows = [math.log(min(p[name])) for p in procs]
        two_procs = [math.log(min(a[name][0], b[name][0])) for a, b in runs["in turn"]]
        both = [math.log(min(a[name][:2] + b[name][:2])) for a, b in runs["in turn"]]
        cells = [ratio["together"], ratio["in turn"], one, two_windows, two_procs,
                 all_windows, both]
        print(f"| `{name}` | " + " | ".join(f"{_sd(c):.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
