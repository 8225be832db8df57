"""Peak memory of ``perf-pipeline ingest`` on one large file, against the file's size.

Run by hand (a few minutes and 1 GB of free disk; nothing is committed):

    uv run python benchmarks/ingest_memory.py                     # 1 x 10M samples
    uv run python benchmarks/ingest_memory.py --baseline-src ../main  # against main too
    uv run python benchmarks/ingest_memory.py --samples 100000    # quick look

It writes one pytest-benchmark JSON file of ``--benchmarks`` x ``--samples`` raw samples
(as ``--benchmark-json`` writes them, ~23 bytes a sample) under ``benchmarks/data/tmp-
ingest-memory/`` (removed afterwards), and a copy cut off at ``--invalid-mb`` MB
(a half-written upload: invalid JSON that parses almost to its end). For each it runs the
command a user runs, ``/usr/bin/time -v python -m perf_pipeline ingest --results-dir
DIR``, and reports "Maximum resident set size" (interpreter, imports, parse, store: the
whole process) as a multiple of the file's size, and the same split in the load and
the store phase (VmHWM after each). Target (issue 10): <= 3x. The
default, one benchmark of ten million samples, is the worst shape: one 80 MB sample
array, sorted and written as one BLOB (before ``model.Samples`` and migration 6 it was
a tuple of ten million float objects, and SQLite copied the BLOB twice).

It also times the parse (``read_json_file`` with plain ``json.loads`` against the
same with the samples read as arrays, and the whole ``load_results``; best of
``--repeat``) on a normal file (100 benchmarks x 500 samples, ~1 MB; also the baseline's
``load_results``) and on the large one, so a memory win that costs speed shows up.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_scale import write_files

HERE = Path(__file__).resolve().parent
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")


def _child(src: Path | None) -> dict[str, object]:
    """``subprocess.run`` arguments for a child that imports perf_pipeline from ``src``
    (default: this checkout). The child runs in ``src``: ``python -m`` and ``-c`` put
    the working directory first on ``sys.path``, before PYTHONPATH."""
    root = (src or HERE.parent).resolve()
    return {"env": {**os.environ, "PYTHONPATH": str(root)}, "cwd": str(root)}


def _timed_ingest(results_dir: Path, src: Path | None) -> tuple[float, str, int, str]:
    """(peak RSS bytes, wall time text, exit code, last stdout line) of one ingest."""
    for stale in results_dir.glob("perf_history.db*"):
        stale.unlink()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "perf_pipeline", "ingest",
         "--results-dir", str(results_dir)], capture_output=True, text=True, check=False,
        **_child(src))
    rss = _RSS.search(proc.stderr)
    wall = _WALL.search(proc.stderr)
    if rss is None or wall is None:
        raise SystemExit(f"no /usr/bin/time figures:\n{proc.stderr[-2000:]}")
    lines = (proc.stdout.strip() or proc.stderr.split("\tCommand being timed")[0]).splitlines()
    return int(rss.group(1)) * 1024, wall.group(1), proc.returncode, (lines or [""])[-1][:90]


#: VmHWM, not ``ru_maxrss``: a child started with vfork (as ``subprocess`` does) inherits
#: its parent's high-water mark in ``ru_maxrss``, and this script's own is ~900 MB.
_PHASES = """
import sys, tempfile
from pathlib import Path
from perf_pipeline import cli  # the command's imports, for the same base
from perf_pipeline.measure.results import load_results
from perf_pipeline.store import HistoryStore
def hwm():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM"))
path = Path(sys.argv[1])
run = load_results(path)
loaded = hwm()
with tempfile.TemporaryDirectory() as tmp, HistoryStore.open(Path(tmp) / "h.db") as store:
    store.ingest_run(run)
print(loaded, hwm())
"""


def _phases(path: Path, src: Path | None) -> tuple[int, int]:
    """Peak RSS (bytes) after ``load_results`` and after storing the run, in one child."""
    out = subprocess.run([sys.executable, "-c", _PHASES, str(path)], capture_output=True,
                         text=True, check=True, **_child(src)).stdout.split()
    return int(out[0]), int(out[1])


_SPEED = """
import inspect, sys, time
from pathlib import Path
from perf_pipeline.measure.json_input import read_json_file
from perf_pipeline.measure.results import load_results
path, repeat = Path(sys.argv[1]), int(sys.argv[2])
runs = [("plain", lambda: read_json_file(path)), ("load", lambda: load_results(path))]
if "float_arrays" in inspect.signature(read_json_file).parameters:  # not in older versions
    runs.append(("arrays", lambda: read_json_file(path, float_arrays={"data"})))
best = {}
for _ in range(repeat):
    for name, fn in runs:
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best[name] = min(best.get(name, took), took)
print(*(f"{k}={v}" for k, v in best.items()))
"""


def _parse_speed(path: Path, repeat: int, src: Path | None) -> dict[str, float]:
    """Best-of seconds of the plain parse (``read_json_file``: ``json.loads``), the parse
    with samples as arrays (where ``src`` has it) and the whole ``load_results``, in a
    fresh child, so the large file's memory does not shape the timing."""
    out = subprocess.run([sys.executable, "-c", _SPEED, str(path), str(repeat)],
                         capture_output=True, text=True, check=True, **_child(src)).stdout
    return {k: float(v) for k, v in (item.split("=") for item in out.split())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--invalid-mb", type=float, default=200.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="also run a checkout's perf_pipeline (e.g. main's), same files")
    args = parser.parse_args()
    work = HERE / "data" / "tmp-ingest-memory"
    shutil.rmtree(work, ignore_errors=True)
    valid, invalid, normal = work / "valid", work / "invalid", work / "normal"
    for folder in (valid, invalid, normal):
        folder.mkdir(parents=True)
    try:
        start = time.perf_counter()
        n = write_files(valid, files=1, benchmarks=args.benchmarks, samples=args.samples,
                        seed=args.seed)
        big = next(valid.glob("*.json"))
        size = big.stat().st_size
        cut = min(size - 1, int(args.invalid_mb * 1e6))
        with big.open("rb") as src, (invalid / "cut.json").open("wb") as dst:
            dst.write(src.read(cut))
        write_files(normal, files=1, benchmarks=100, samples=500, seed=args.seed)
        print(f"wrote {n:,} samples, {size / 1e6:.0f} MB (and a copy cut at "
              f"{cut / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s")

        versions = [("this", None)] + ([("base", args.baseline_src)] if args.baseline_src
                                       else [])
        for label, folder, nbytes in (("valid", valid, size), ("invalid", invalid, cut)):
            for version, src in versions:
                rss, wall, code, last = _timed_ingest(folder, src)
                print(f"[{version}] ingest {label:7s} {nbytes / 1e6:4.0f} MB file: peak RSS "
                      f"{rss / 1e6:5.0f} MB = {rss / nbytes:.2f}x the file, wall {wall}, exit "
                      f"{code}  [{last}]")

        for version, src in versions:
            loaded, stored = _phases(big, src)
            print(f"[{version}] valid file, in one process: peak RSS {loaded / size:.2f}x after "
                  f"load_results, {stored / size:.2f}x after storing the run")

        small = next(normal.glob("*.json"))
        for label, path in (("normal", small), ("large", big)):
            repeat = args.repeat if label == "normal" else 1
            times = {version: _parse_speed(path, repeat, src) for version, src in versions
                     if label == "normal" or version == "this"}
            mine = times["this"]
            line = (f"parse {label} file ({path.stat().st_size / 1e6:.1f} MB): json.loads "
                    f"{mine['plain']:.3f} s, with sample arrays {mine['arrays']:.3f} s (ratio "
                    f"{mine['arrays'] / mine['plain']:.2f}); load_results {mine['load']:.3f} s")
            if "base" in times:
                line += (f", base's {times['base']['load']:.3f} s (ratio "
                         f"{mine['load'] / times['base']['load']:.2f})")
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
