"""How well do history change points and drift alarms work, on real noise and synthetic?

    uv run --with apache-otava --with asv python benchmarks/changepoints.py \\
        --corpus corpus2=/tmp/history-corpus.json.gz --trials 150 --seed 1

Histories of ``--commits`` commits are replayed from a recorded noise corpus
(``perf_pipeline.analysis.histories.replay_history``: windows of consecutive real
processes from random starts, a benchmark drawn per window) and, second, from the synthetic
model (``simulate_recording``, the same replay). Into the same histories each detector
sees, we inject: nothing (flat), a +10 % and a +20 % step, a single-commit +30 % spike and
a 10 % ramp over 10 commits, at a position drawn per trial. Detectors:

* ours: ``detect_change_points`` + ``unexplained_drifts`` (drifts beyond the steps found),
  product defaults, all replicates of a commit;
* Apache Otava 0.8 ``compute_change_points`` with its defaults (window 50, p 0.001);
* asv ``step_detect.detect_steps`` (every step boundary it returns).

Otava and asv take one value per commit: the median of its replicates. Both are optional
(install them only in the benchmark environment); a missing one is skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from perf_pipeline.analysis import detect_change_points, unexplained_drifts
from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.analysis.replay import NoiseRecording
from perf_pipeline.analysis.simulation import NoiseModel, simulate_recording
from perf_pipeline.store import load_noise_corpus

Found = tuple[list[int], list[tuple[int, int]]]  # change point indices, drift spans
SCENARIOS = (("flat", None, 1.0), ("step +10 %", "step", 1.10), ("step +20 %", "step", 1.20),
             ("spike +30 %", "spike", 1.30), ("ramp 10 %/10", "ramp", 1.10))
RAMP = 10


def ours(values: np.ndarray) -> Found:
    shifts = detect_change_points(values)
    drifts = unexplained_drifts(values, shifts)
    return [s.index for s in shifts], [(d.start, d.end) for d in drifts]


def _medians(values: np.ndarray) -> list[float]:
    return np.exp(np.median(np.log(values), axis=1)).tolist()


def _otava() -> Callable[[np.ndarray], Found] | None:
    try:
        from otava.analysis import compute_change_points
    except ImportError:
        return None

    def otava(values: np.ndarray) -> Found:
        cps, _ = compute_change_points(_medians(values))
        return [cp.index for cp in cps], []
    return otava


def _asv() -> Callable[[np.ndarray], Found] | None:
    try:
        from asv.step_detect import detect_steps
    except ImportError:
        return None

    def asv(values: np.ndarray) -> Found:
        steps = detect_steps(_medians(values))
        return [int(s[0]) for s in steps[1:]], []
    return asv


def _score(kind: str | None, at: int, found: Found) -> dict[str, bool]:
    cps, drifts = found
    if kind is None:
        return {"false alarm": bool(cps or drifts)}
    near = any(abs(c - at) <= 2 for c in cps)
    if kind == "step":
        return {"found": near, "exact": at in cps}
    if kind == "spike":
        return {"flagged": near or any(a <= at <= b for a, b in drifts)}
    in_ramp = any(at - 2 <= c <= at + RAMP + 2 for c in cps)
    by_drift = any(a <= at + RAMP and b >= at for a, b in drifts)
    return {"found": in_ramp or by_drift, "by drift": by_drift}


def study(recording: NoiseRecording, detectors: dict[str, Callable[[np.ndarray], Found]], *,
          trials: int, seed: int, commits: int, per_commit: int, remove_suite_factor: bool
          ) -> dict[str, dict[str, float]]:
    """Rates per detector: columns as in the README table."""
    rng = np.random.default_rng(seed)
    tallies: dict[str, dict[str, list[bool]]] = {d: {} for d in detectors}
    for label, kind, ratio in SCENARIOS:
        for _ in range(trials):
            values = replay_history(recording, rng, n_commits=commits,
                                    processes_per_commit=per_commit,
                                    remove_suite_factor=remove_suite_factor)
            at = int(rng.integers(15, commits - 15 - (RAMP if kind == "ramp" else 0)))
            if kind is not None:
                values = inject(values, kind=kind, at=at, ratio=ratio, length=RAMP)
            for name, detect in detectors.items():
                for key, hit in _score(kind, at, detect(values)).items():
                    tallies[name].setdefault(f"{label}: {key}", []).append(hit)
    return {d: {k: float(np.mean(v)) for k, v in cols.items()} for d, cols in tallies.items()}


def time_1000(detectors: dict[str, Callable[[np.ndarray], Found]], seed: int
              ) -> dict[str, tuple[float, float]]:
    """Median ms (wall, CPU) to scan one flat 1,000-commit history (synthetic, one value
    per commit). CPU time is shown too because a shared machine stretches wall time."""
    rng = np.random.default_rng(seed)
    values = replay_history(simulate_recording(rng, n_pairs=500, model=NoiseModel(
        n_benchmarks=3)), rng, n_commits=1000, block=1000)
    out = {}
    for name, detect in detectors.items():
        wall, cpu = [], []
        for _ in range(5 if name != "ours" else 30):
            t, c = time.perf_counter(), time.process_time()
            detect(values)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out[name] = (1e3 * float(np.median(wall)), 1e3 * float(np.median(cpu)))
    return out


def _print(title: str, rates: dict[str, dict[str, float]]) -> None:
    cols = list(next(iter(rates.values())))
    print(f"\n### {title}\n")
    print("| detector | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in rates.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.2f}" for c in cols) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", default=[], metavar="LABEL=PATH",
                        help="a noise corpus (perf-pipeline calibrate --out); repeatable")
    parser.add_argument("--trials", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--commits", type=int, default=120)
    parser.add_argument("--per-commit", type=int, nargs="+", default=[1, 3],
                        help="processes per commit (replicates); one table each")
    parser.add_argument("--suite-factor-removed", action="store_true",
                        help="also replay real histories with each process's suite factor "
                             "removed")
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args()
    detectors: dict[str, Callable[[np.ndarray], Found]] = {"ours": ours}
    for make in (_otava, _asv):
        det = make()
        if det is not None:
            detectors[make.__name__.strip("_")] = det
    sources: list[tuple[str, NoiseRecording, bool]] = []
    for spec in args.corpus:
        label, _, path = spec.partition("=")
        rec = NoiseRecording.from_corpus(load_noise_corpus(path))
        sources.append((f"real noise, {label} ({rec.n_processes} processes)", rec, False))
        if args.suite_factor_removed:
            sources.append((f"real noise, {label}, suite factor removed", rec, True))
    if not args.no_synthetic:
        rng = np.random.default_rng(args.seed + 1000)
        sources.append(("synthetic (NoiseModel defaults, 400 processes)",
                        simulate_recording(rng, n_pairs=200), False))
    for title, rec, remove in sources:
        for per in args.per_commit:
            rates = study(rec, detectors, trials=args.trials, seed=args.seed,
                          commits=args.commits, per_commit=per, remove_suite_factor=remove)
            _print(f"{title}; {args.commits} commits, {per} process(es) per commit, "
                   f"{args.trials} histories per scenario", rates)
            sys.stdout.flush()
    print("\n### ms per flat 1,000-commit history (median)\n")
    for name, (wall, cpu) in time_1000(detectors, args.seed).items():
        print(f"- {name}: {wall:.2f} ms wall, {cpu:.2f} ms CPU")


if __name__ == "__main__":
    main()
