"""Real stress noise: the stress gate replayed on recorded stress runs of ONE commit.

Record with ``perf-pipeline calibrate --suite stress --pairs N --out FILE`` (interleaved
same-commit pairs of stress runs, each a fresh pytest process): nothing differs between
the runs but the process and the moment, so every pair of them is a "docs-only commit"
judged against its predecessor. ``replay`` judges every ordered pair by the screen
alone (``compare_stress``), then replays the two stages (``analysis.stress_replay``:
a screen pair, then fresh pairs through ``confirm_stress``, all distinct runs), without
and with injected changes. ``calibrate --suite stress`` prints the same for a new
recording; this script is for the committed corpus and for more trials.

    uv run python benchmarks/stress_noise.py replay \
        benchmarks/data/noise/example-stress-runs.jsonl.gz [TRIALS] [SEED]
    uv run python benchmarks/stress_noise.py pairs \
        benchmarks/data/noise/example-stress-runs.jsonl.gz [SEED]   # stress_confirm_pairs

The committed corpus holds 64 consecutive runs of the example's stress suite, recorded
before ``calibrate --suite stress`` existed by this script's former ``record`` command
(commit cb50e89): the same measuring call in a loop, one commit, no pairs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from perf_pipeline.analysis.stress_replay import (
    INJECTIONS,
    replay_stress_gate,
    screen_pair_rates,
)
from perf_pipeline.store.stress_corpus import load_stress_corpus


def replay(path: Path, trials: int = 2000, seed: int = 1) -> None:
    runs = load_stress_corpus(path)
    print(f"{len(runs)} runs of one commit from {path}")
    share, by_figure = screen_pair_rates(runs)
    print(f"screen alone: {share:.1%} of {len(runs) * (len(runs) - 1)} same-commit pairs get "
          "a regression")
    for (scenario, figure), rate in by_figure.items():
        print(f"  {scenario:24s} {figure:18s} {rate:.1%}")
    rng = np.random.default_rng(seed)
    rates = replay_stress_gate(runs, rng, trials=trials)
    print(f"screen + confirmation, {trials} trials (seed {seed}): "
          f"flagged {rates.screen_flagged:.1%}, confirmed {rates.confirmed:.2%}, "
          f"{rates.mean_pairs:.2f} fresh pairs per confirmation")
    for figure, factor in INJECTIONS:
        rates = replay_stress_gate(runs, rng, trials=trials // 4, inject=(figure, factor))
        size = f"+{factor:g}" if figure == "exponent" else f"x{factor:g}"
        print(f"  {figure} {size}: flagged {rates.screen_flagged:.1%}, "
              f"injected figure confirmed {rates.injected_confirmed:.1%}, "
              f"{rates.mean_pairs:.2f} pairs")


def pairs_table(path: Path, seed: int = 11) -> None:
    """The README's table of ``stress_confirm_pairs``: what more pairs buy (a doubled
    p99 is the weak figure) and cost."""
    runs = load_stress_corpus(path)
    print("| pairs | unchanged: confirmed, pairs per flag | p99 x2: confirmed, pairs | p99 x3 |")
    for pairs in (10, 12, 16):
        rng = np.random.default_rng(seed)
        same = replay_stress_gate(runs, rng, trials=600, max_pairs=pairs)
        twice = replay_stress_gate(runs, rng, trials=300, max_pairs=pairs,
                                   inject=("p99_s", 2.0))
        thrice = replay_stress_gate(runs, rng, trials=300, max_pairs=pairs,
                                    inject=("p99_s", 3.0))
        print(f"| {pairs} | {same.confirmed:.2%}, {same.mean_pairs:.1f} | "
              f"{twice.injected_confirmed:.1%}, {twice.mean_pairs:.1f} | "
              f"{thrice.injected_confirmed:.1%} |", flush=True)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "replay":
        replay(Path(sys.argv[2]), *(int(a) for a in sys.argv[3:5]))
    elif command == "pairs":
        pairs_table(Path(sys.argv[2]), *(int(a) for a in sys.argv[3:4]))
    else:
        sys.exit(__doc__)
