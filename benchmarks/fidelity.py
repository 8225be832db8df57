"""Fidelity benchmark: does measuring through perf_pipeline change the timings it reports?

Run by hand (about 3 minutes on 2 cores with the defaults):

    uv run python benchmarks/fidelity.py [--pairs 6] [--project examples/ml_pipeline]

Runs the example target's performance suite alternately as plain
``pytest --benchmark-json`` and as perf_pipeline runs it (``measure.run_suite``: our
plugin loaded, which adds CPU, I/O, GC, RSS and a separate tracemalloc pass), in ABBA
order so that a drift of the machine hits both arms alike. Per benchmark it prints the
median over pairs of (our median / plain median) within a pair, the two runs of a pair
being next to each other in time (target, issue 2: within 3 %). To show the noise floor,
the same estimate is made between consecutive plain runs (plain A/A): a ratio is only
meaningful next to that spread. Last, the whole suite's geometric-mean ratio per pair,
with a t interval over pairs: benchmark-to-benchmark noise averages out there.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from scipy import stats

from perf_pipeline.config import Settings
from perf_pipeline.measure import load_results, run_suite

ROOT = Path(__file__).resolve().parents[1]


def _plain(project: Path, paths: tuple[str, ...], json_path: Path,
           timeout_s: float) -> dict[str, float]:
    """pytest-benchmark alone, the command a user would type."""
    argv = [sys.executable, "-m", "pytest", *paths, f"--benchmark-json={json_path}",
            "-p", "no:cacheprovider", "-q"]
    proc = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=timeout_s,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"plain run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return _medians(json_path)


def _ours(project: Path, paths: tuple[str, ...], json_path: Path,
          timeout_s: float) -> dict[str, float]:
    """As perf_pipeline measures: ``measure.run_suite``, our plugin loaded."""
    outcome = run_suite(project, paths=paths, json_path=json_path, timeout_s=timeout_s)
    if not outcome.ok:
        raise SystemExit(f"perf_pipeline run failed: {outcome.error}\n{outcome.stderr_tail}")
    return _medians(json_path)


def _medians(json_path: Path) -> dict[str, float]:
    run = load_results(json_path)
    return {b.name: statistics.median(b.samples_s) for b in run.benchmarks}


def _paired_ratio(a: list[dict[str, float]], b: list[dict[str, float]], name: str) -> float:
    """Median over pairs of a_i / b_i: runs next to each other share the machine's mood."""
    return statistics.median(x[name] / y[name] for x, y in zip(a, b, strict=True))


def _suite_ratio(a: list[dict[str, float]], b: list[dict[str, float]],
                 names: list[str]) -> tuple[float, float, float]:
    """Geometric-mean ratio over the suite per pair; mean and t interval over pairs."""
    logs = [statistics.fmean(math.log(x[n] / y[n]) for n in names)
            for x, y in zip(a, b, strict=True)]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return math.nan, math.exp(mean), math.nan
    half = stats.t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(mean - half), math.exp(mean), math.exp(mean + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="runs of each arm (default 6)")
    parser.add_argument("--project", type=Path, default=ROOT / Settings().project_subdir)
    args = parser.parse_args()
    paths = Settings().benchmark_paths
    plain: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="perf-fidelity-") as tmp:
        for i in range(args.pairs):
            order = ("plain", "ours") if i % 2 == 0 else ("ours", "plain")  # ABBA
            for arm in order:
                json_path = Path(tmp) / f"{arm}-{i}.json"
                if arm == "plain":
                    plain.append(_plain(args.project, paths, json_path, 900))
                else:
                    ours.append(_ours(args.project, paths, json_path, 900))
                print(f"  run {i + 1}/{args.pairs} {arm} done", file=sys.stderr)
    names = sorted(set(plain[0]) & set(ours[0]))
    width = max(len(n.split("::")[-1]) for n in names)
    print(f"\n{'benchmark':<{width}}  {'plain median':>13}  {'ours / plain':>12}  "
          f"{'plain A/A':>9}")
    ratios, noise = [], []
    for name in names:
        r = _paired_ratio(ours, plain, name)
        aa = _paired_ratio(plain[1:], plain[:-1], name) if len(plain) > 1 else float("nan")
        ratios.append(r)
        noise.append(aa)
        median_ms = statistics.median(run[name] for run in plain) * 1e3
        print(f"{name.split('::')[-1]:<{width}}  {median_ms:>10.3f} ms  {r:>12.3f}  {aa:>9.3f}")
    worst = max(ratios, key=lambda r: abs(r - 1))
    print(f"\n{len(names)} benchmarks, {args.pairs} runs per arm, ABBA order")
    print(f"ours / plain: median {statistics.median(ratios):.3f}, "
          f"range {min(ratios):.3f}-{max(ratios):.3f}, worst {worst:.3f}")
    print(f"plain A/A:    median {statistics.median(noise):.3f}, "
          f"range {min(noise):.3f}-{max(noise):.3f}")
    within = sum(abs(r - 1) <= 0.03 for r in ratios)
    print(f"within 3 %: {within} of {len(ratios)} benchmarks")
    low, mid, high = _suite_ratio(ours, plain, names)
    aa_low, aa_mid, aa_high = _suite_ratio(plain[1:], plain[:-1], names)
    print(f"whole suite (geometric mean over benchmarks, 95 % CI over pairs): "
          f"ours / plain {mid:.3f} [{low:.3f}, {high:.3f}]; "
          f"plain A/A {aa_mid:.3f} [{aa_low:.3f}, {aa_high:.3f}]")


if __name__ == "__main__":
    main()
