"""History alarms on replayed real noise, with and without each run's suite factor.

Flat histories of 120 commits, one process per commit, stitched from the committed
real-noise corpus (``analysis.histories.replay_history``); change points and drifts as
the reports compute them (``detect_change_points``, then ``unexplained_drifts``).
"raw": one benchmark's medians as measured; "factor-free": each process divided by its
suite-wide factor (``analysis.run_factors``, what the reports and the culprit search
now do); "factor itself": the suite factor's own history (what a suite-wide change
would have to be seen in).

    uv run python benchmarks/history_factor.py [TRIALS] [SEED]

About 20 s of CPU for 300 trials per cell.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from perf_pipeline.analysis import (
    NoiseRecording,
    detect_change_points,
    run_factors,
    unexplained_drifts,
)
from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.store import load_noise_corpus

CORPUS = Path(__file__).resolve().parent / "data" / "noise" / "example-suite-pinned.json.gz"


def rates(src: np.ndarray, seed: int, trials: int, *, remove: bool) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    flat = drift = ramp = step = exact = 0
    for _ in range(trials):
        v = replay_history(src, rng, remove_suite_factor=remove)
        shifts = detect_change_points(v)
        drifts = unexplained_drifts(v, shifts)
        flat += bool(shifts or drifts)
        drift += bool(drifts)
        at = int(rng.integers(15, 95))
        v = inject(replay_history(src, rng, remove_suite_factor=remove), kind="ramp",
                   at=at, ratio=1.10)
        shifts = detect_change_points(v)
        ramp += (any(d.start <= at + 10 and d.end >= at for d in unexplained_drifts(v, shifts))
                 or any(at - 2 <= s.index <= at + 12 for s in shifts))
        at = int(rng.integers(20, 100))
        v = inject(replay_history(src, rng, remove_suite_factor=remove), kind="step", at=at,
                   ratio=1.10)
        found = [abs(s.index - at) for s in detect_change_points(v)]
        step += any(d <= 2 for d in found)
        exact += 0 in found
    return {"flat: any alarm": flat / trials, "flat: drift": drift / trials,
            "ramp 10%/10 found": ramp / trials, "+10% step ±2": step / trials,
            "+10% exact": exact / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", type=int, nargs="?", default=300,
                        help="histories per cell (default 300)")
    parser.add_argument("seed", type=int, nargs="?", default=100, help="default 100")
    args = parser.parse_args()
    trials, seed = args.trials, args.seed
    log_med = NoiseRecording.from_corpus(load_noise_corpus(CORPUS)).log_medians()
    factor = run_factors(log_med)[:, None]
    print(f"corpus {CORPUS.name}: {log_med.shape[0]} processes x {log_med.shape[1]} "
          f"benchmarks; {trials} histories per cell, seed {seed}")
    rows = [("raw", log_med, False), ("factor-free", log_med, True),
            ("factor itself", factor, False)]
    header = None
    for name, src, remove in rows:
        r = rates(src, seed, trials, remove=remove)
        if header is None:
            header = list(r)
            print("| history | " + " | ".join(header) + " |")
            print("|---" * (len(header) + 1) + "|")
        print(f"| {name} | " + " | ".join(f"{r[k]:.2f}" for k in header) + " |")


if __name__ == "__main__":
    main()
