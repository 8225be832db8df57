"""How well do history change points and drift alarms work, on real noise and synthetic?

    uv run --with apache-otava --with asv python benchmarks/changepoints.py \\
        --corpus corpus2=/tmp/history-corpus.json.gz --trials 150 --seed 1

Histories of ``--commits`` commits are replayed from a recorded noise corpus
(``perf_pipeline.analysis.histories.replay_history``: windows of consecutive real
processes from random starts, a benchmark drawn per window) and, second, from the synthetic
model (``simulate_recording``, the same replay). Into the same histories each detector
sees, we inject: nothing (flat), a +10 % and a +20 % step, a single-commit +30 % spike,
a 10 % ramp over 10 commits, a +20 % slowdown fixed 15 commits later (a pulse: found
means a change point within 2 commits of either end) and the same slowdown landed again
12 commits after its fix (found means a change point within 2 commits of the re-land),
at a position drawn per trial.
Detectors:

* ours: ``detect_change_points`` + ``unexplained_drifts`` (drifts beyond the steps found),
  product defaults, all replicates of a commit;
* Apache Otava 0.8 ``compute_change_points`` with its defaults (window 50, p 0.001);
* asv ``step_detect.detect_steps`` (every step boundary it returns).

Otava and asv take one value per commit: the median of its replicates. Both are optional
(install them only in the benchmark environment); a missing one is skipped.

``--per-benchmark`` adds, for each benchmark of a real corpus (suite factor removed, as
the product judges it), its own robust noise scale and how often ours finds and places a
+10 % step in single-benchmark histories, next to an **oracle** that is told the two true
levels, that the step lies within 10 commits of the truth, and the benchmark's noise
density (a kernel estimate over the whole corpus): it places the step at the maximum
likelihood split. No detector that has to estimate the levels does better on average, so
the oracle's rate is what the noise allows.
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
             ("spike +30 %", "spike", 1.30), ("ramp 10 %/10", "ramp", 1.10),
             ("fixed +20 %/15", "pulse", 1.20), ("re-landed +20 %", "reland", 1.20))
RAMP = 10
PULSE = 15
#: A re-landed slowdown: +20 % for ``PULSE`` commits, reverted for ``REVERTED``, then
#: landed again for good.
REVERTED = 12
#: Each change is injected at least ``MARGIN`` commits from either end of the history.
MARGIN = 15
#: The shortest history every scenario fits in (the re-landed slowdown's three ends).
MIN_COMMITS = 2 * MARGIN + PULSE + REVERTED + 1


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
    if kind == "pulse":
        fixed = any(abs(c - at - PULSE) <= 2 for c in cps)
        return {"found": near or fixed, "both ends": near and fixed}
    if kind == "reland":
        fixed = any(abs(c - at - PULSE) <= 2 for c in cps)
        again = any(abs(c - at - PULSE - REVERTED) <= 2 for c in cps)
        return {"found": again, "all three": near and fixed and again}
    in_ramp = any(at - 2 <= c <= at + RAMP + 2 for c in cps)
    by_drift = any(a <= at + RAMP and b >= at for a, b in drifts)
    return {"found": in_ramp or by_drift, "by drift": by_drift}


def study(recording: NoiseRecording, detectors: dict[str, Callable[[np.ndarray], Found]], *,
          trials: int, seed: int, commits: int, per_commit: int, remove_suite_factor: bool
          ) -> dict[str, dict[str, float]]:
    """Rates per detector: columns as in the README table."""
    rng = np.random.default_rng(seed)
    log_med = recording.log_medians()
    tallies: dict[str, dict[str, list[bool]]] = {d: {} for d in detectors}
    for label, kind, ratio in SCENARIOS:
        for _ in range(trials):
            values = replay_history(log_med, rng, n_commits=commits,
                                    processes_per_commit=per_commit,
                                    remove_suite_factor=remove_suite_factor)
            span = {"ramp": RAMP, "pulse": PULSE, "reland": PULSE + REVERTED
                    }.get(kind or "", 0)
            at = int(rng.integers(MARGIN, commits - MARGIN - span))
            if kind == "reland":
                values = inject(inject(values, kind="pulse", at=at, ratio=ratio,
                                       length=PULSE),
                                kind="step", at=at + PULSE + REVERTED, ratio=ratio)
            elif kind is not None:
                values = inject(values, kind=kind, at=at, ratio=ratio,
                                length=PULSE if kind == "pulse" else RAMP)
            for name, detect in detectors.items():
                for key, hit in _score(kind, at, detect(values)).items():
                    tallies[name].setdefault(f"{label}: {key}", []).append(hit)
    return {d: {k: float(np.mean(v)) for k, v in cols.items()} for d, cols in tallies.items()}


def per_benchmark(recording: NoiseRecording, *, trials: int, seed: int, commits: int
                  ) -> list[dict[str, float]]:
    """Per benchmark (suite factor removed): robust scale, ours and the oracle on +10 %
    steps in histories of that benchmark alone (module docstring)."""
    from scipy import stats

    from perf_pipeline.analysis import run_factors
    from perf_pipeline.analysis.changepoints import robust_scale

    log_med = recording.log_medians()
    log_med = log_med - run_factors(log_med)[:, None]
    step = np.log(1.10)
    rows = []
    for j, name in enumerate(recording.names):
        col = log_med[:, j] - np.median(log_med[:, j])
        grid = np.linspace(col.min() - 1.0, col.max() + 1.0, 4001)
        nll_grid = -np.log(stats.gaussian_kde(col)(grid) + 1e-300)
        rng = np.random.default_rng(seed + j)
        tally = np.zeros(4)
        scales = []
        for _ in range(trials):
            at = int(rng.integers(20, commits - 20))
            values = inject(replay_history(col[:, None], rng, n_commits=commits), kind="step",
                            at=at, ratio=1.10)
            y = np.log(values[:, 0])
            scales.append(robust_scale(y))
            found = [abs(s.index - at) for s in detect_change_points(values)]
            cands = np.arange(at - 10, at + 11)
            old = np.interp(y, grid, nll_grid)
            new = np.interp(y - step, grid, nll_grid)
            cost = (np.concatenate(([0.0], np.cumsum(old)))[cands]
                    + np.concatenate((np.cumsum(new[::-1])[::-1], [0.0]))[cands])
            guess = int(cands[np.argmin(cost)])
            tally += [any(d <= 2 for d in found), 0 in found, abs(guess - at) <= 2,
                      guess == at]
        r = tally / trials
        scale = float(np.median(scales))
        rows.append({"benchmark": name.rsplit("::", 1)[-1], "scale": scale,
                     "10 % / scale": step / scale,
                     "ours ±2": r[0], "ours exact": r[1], "oracle ±2": r[2],
                     "oracle exact": r[3]})
    return sorted(rows, key=lambda row: row["scale"])


#: CPU budget of ours (change points and drifts) per 1,000-commit history.
TARGET_MS = 5.0


def time_1000(detectors: dict[str, Callable[[np.ndarray], Found]], seed: int
              ) -> dict[str, tuple[float, float]]:
    """Median ms (wall, CPU) to scan one flat 1,000-commit history (synthetic, one value
    per commit). CPU time is shown too because a shared machine stretches wall time.
    Ours is also timed in its two parts (change points; drifts given them)."""
    rng = np.random.default_rng(seed)
    values = replay_history(simulate_recording(rng, n_pairs=500, model=NoiseModel(
        n_benchmarks=3)), rng, n_commits=1000, block=1000)
    parts: dict[str, Callable[[np.ndarray], object]] = {}
    if "ours" in detectors:
        shifts = detect_change_points(values)
        parts = {"ours: change points": detect_change_points,
                 "ours: drifts": lambda v: unexplained_drifts(v, shifts)}
    out = {}
    for name, detect in {**detectors, **parts}.items():
        wall, cpu = [], []
        for _ in range(30 if name.startswith("ours") else 5):
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
    parser.add_argument("--per-commit", type=int, nargs="*", default=[1, 3],
                        help="processes per commit (replicates); one table each (none: no tables)")
    parser.add_argument("--suite-factor-removed", action="store_true",
                        help="also replay real histories with each process's suite factor "
                             "removed")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--per-benchmark", action="store_true",
                        help="also a +10 %% step per benchmark of each corpus, ours against "
                             "an oracle")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--timing-only", action="store_true",
                        help="only the 1,000-commit timing (no corpus, no tables)")
    args = parser.parse_args()
    if args.commits < MIN_COMMITS:
        parser.error(f"--commits must be at least {MIN_COMMITS} (the re-landed slowdown "
                     f"needs {PULSE + REVERTED} commits, {MARGIN} from either end), "
                     f"got {args.commits}")
    detectors: dict[str, Callable[[np.ndarray], Found]] = {"ours": ours}
    for make in (_otava, _asv):
        det = make()
        if det is not None:
            detectors[make.__name__.strip("_")] = det
    if args.timing_only:
        args.corpus, args.per_commit, args.no_synthetic = [], [], True
        args.per_benchmark = args.no_timing = False
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
    if args.per_benchmark:
        for spec in args.corpus:
            label, _, path = spec.partition("=")
            rec = NoiseRecording.from_corpus(load_noise_corpus(path))
            rows = per_benchmark(rec, trials=args.trials, seed=args.seed,
                                 commits=args.commits)
            print(f"\n### +10 % step per benchmark, {label}, suite factor removed; one "
                  f"process per commit, {args.trials} histories each\n")
            cols = [c for c in rows[0] if c != "benchmark"]
            print("| benchmark | " + " | ".join(cols) + " |")
            print("|---|" + "---|" * len(cols))
            for row in rows:
                print(f"| {row['benchmark']} | " + " | ".join(
                    f"{row[c]:.3f}" if c == "scale" else f"{row[c]:.1f}" if c.endswith("scale")
                    else f"{row[c]:.2f}" for c in cols)
                    + " |")
            means = {c: float(np.mean([row[c] for row in rows])) for c in cols}
            print("| **mean** | " + " | ".join(f"{means[c]:.2f}" for c in cols) + " |")
            sys.stdout.flush()
    if args.no_timing:
        return
    print(f"\n### ms per flat 1,000-commit history (median; target for ours: "
          f"{TARGET_MS:g} ms CPU)\n")
    for name, (wall, cpu) in time_1000(detectors, args.seed).items():
        print(f"- {name}: {wall:.2f} ms wall, {cpu:.2f} ms CPU")


if __name__ == "__main__":
    main()
