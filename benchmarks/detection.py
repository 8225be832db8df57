"""Detection study: A/A false-alarm rate and power of perf_pipeline's rule vs common rules.

Run by hand:  uv run python benchmarks/detection.py  [--trials 1000] [--seed 1]

All rules see the same seeded synthetic suites (perf_pipeline.analysis.simulation):
50 benchmarks, 10 baseline runs + 1 current run, 20 samples per run; within-run CV 3 %
with 5 % heavy-tailed outliers; machine factor CV 3 % common to each run; per-benchmark
run effect CV 1 %; random-walk drift 0.3 % (common) and 0.2 % (per benchmark) per run.
False alarms: share of unchanged suite runs (A/A) in which the rule flags ANY benchmark.
Power: share of runs in which the one slowed benchmark is flagged.

A second table shows the interleaved A/B design (``perf-pipeline ab``) on the same noise
model: N rounds of both commits back to back, sharing the round's machine factor, each
process adding its own (CV 1 % on a quiet machine, 10 % as on this 2-core VM), judged by
``compare_rounds`` (each round's suite factor removed, paired Wilcoxon, Holm, alpha 0.01,
threshold 1.0) and, for contrast, by the plain paired ``compare_suite(paired=True)``. It
costs 2 N processes instead of one per commit, and is meant for confirming a suspect
commit.
"""

from __future__ import annotations

import argparse

import numpy as np

from perf_pipeline.analysis import (
    NoiseModel,
    ab_rule,
    asv_rule,
    ours_rule,
    pyperf_rule,
    pytest_benchmark_rule,
    simulate_ab_rounds,
    simulate_suites,
    within_run_rule,
)

SLOWDOWNS = (1.02, 1.05, 1.10, 1.20)


def _rules(samples: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (per-benchmark flags, extra suite-level flags)."""
    none = np.zeros(samples.shape[0], dtype=bool)
    bench, shift = ours_rule(samples, threshold=1.0, alpha=0.01, correction="holm")
    return {
        "perf_pipeline (run-level, Holm, alpha 0.01, thr 1.0)": (bench, shift),
        "within-run Mann-Whitney (Holm, alpha 0.01)": (within_run_rule(samples), none),
        "pytest-benchmark mean:5%": (pytest_benchmark_rule(samples, percent=5), none),
        "pytest-benchmark mean:10%": (pytest_benchmark_rule(samples, percent=10), none),
        "asv (MWU p<0.002, factor 1.1)": (asv_rule(samples), none),
        "pyperf (t-test 95 %)": (pyperf_rule(samples), none),
    }


def measure(trials: int, seed: int, chunk: int = 250) -> dict[str, list[float]]:
    table: dict[str, list[float]] = {}
    for col, slowdown in enumerate((1.0, *SLOWDOWNS)):
        rng = np.random.default_rng(seed + col)
        hits: dict[str, list[np.ndarray]] = {}
        for start in range(0, trials, chunk):
            samples = simulate_suites(rng, n_trials=min(chunk, trials - start),
                                      model=NoiseModel(), slowdown=slowdown, slowed=(0,))
            for name, (bench, suite) in _rules(samples).items():
                hit = (bench.any(axis=1) | suite) if slowdown == 1.0 else bench[:, 0]
                hits.setdefault(name, []).append(hit)
        for name, parts in hits.items():
            table.setdefault(name, []).append(float(np.mean(np.concatenate(parts))))
    return table


def measure_ab(trials: int, seed: int, rounds: int, pair_cv: float,
               remove_factor: bool = True) -> list[float]:
    """A/A false alarms, then power per slowdown, of an A/B comparison."""
    row = []
    for col, slowdown in enumerate((1.0, *SLOWDOWNS)):
        base, cand = simulate_ab_rounds(np.random.default_rng(seed + 100 + col),
                                        n_trials=trials, rounds=rounds, pair_cv=pair_cv,
                                        slowdown=slowdown)
        bench, shift = ab_rule(base, cand, threshold=1.0, alpha=0.01,
                               remove_factor=remove_factor)
        hits = float(np.sum(bench.any(axis=1) | shift) if slowdown == 1.0
                     else np.sum(bench[:, 0]))
        row.append(hits / trials)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ab-trials", type=int, default=200,
                        help="suites per column for the A/B table (~0.09 s each; 0 skips it)")
    args = parser.parse_args()
    table = measure(args.trials, args.seed)
    print(f"{args.trials} simulated suite runs per column, seed {args.seed}; "
          "50 benchmarks, 10 baseline runs, 20 samples/run, within-run CV 3 %, "
          "machine CV 3 %, per-benchmark run CV 1 %, drift, 5 % outliers")
    header = ["rule", "A/A false alarms"] + [f"power +{s - 1:.0%}" for s in SLOWDOWNS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{v:.1%}" for v in row) + " |")
    if args.ab_trials < 1:
        return
    print(f"\nInterleaved A/B, {args.ab_trials} simulated suites per column (Holm, alpha "
          "0.01, threshold 1.0)")
    print("| design | A/A false alarms | " + " | ".join(header[2:]) + " |")
    print("|" + "---|" * len(header))
    for rounds, pair_cv, remove in ((10, 0.10, True), (15, 0.01, True), (15, 0.10, True),
                                    (20, 0.10, True), (15, 0.10, False)):
        row = measure_ab(args.ab_trials, args.seed, rounds, pair_cv, remove)
        rule = "round factor removed" if remove else "plain paired test"
        print(f"| A/B, {rounds} rounds, process factor {pair_cv:.0%}, {rule} | "
              + " | ".join(f"{v:.1%}" for v in row) + " |")

if __name__ == "__main__":
    main()
