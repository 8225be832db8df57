"""Real stress noise: the example's stress suite run many times at ONE commit.

``record`` runs the configured stress suite (``-m stress``) N times at a commit, each a
fresh pytest process, and keeps every run's figures (with their latency histograms) as
one JSON line per run. Nothing differs between the runs but the process and the
moment, so every pair of runs is a "docs-only commit" judged against its predecessor.

``replay`` judges pairs of recorded runs as the product does, and prints how often an
unchanged commit gets a stress "regression", figure by figure: the single-pair screen
(``compare_stress``), and the screen followed by the confirmation
(``analysis.stress_confirm``) on fresh runs of the same recording.

    uv run python benchmarks/stress_noise.py record 20 benchmarks/data/noise/stress-runs.jsonl.gz
    uv run python benchmarks/stress_noise.py replay benchmarks/data/noise/stress-runs.jsonl.gz

A run of the example's stress suite at STRESS_MULTIPLIER 1 takes about 30 s.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

import numpy as np

from perf_pipeline.analysis.stress import compare_stress
from perf_pipeline.analysis.stress_replay import replay_stress_gate
from perf_pipeline.config import load_settings
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.measure.session import error_text, run_in_worktree
from perf_pipeline.measure.stress_results import load_stress_figures
from perf_pipeline.measure.stress_session import STRESS_DIR_ENV
from perf_pipeline.model import Verdict
from perf_pipeline.store.stress_corpus import load_stress_corpus, stress_corpus_line

#: Injected changes for the power rows: (figure, factor), each the size of its rule.
INJECTIONS = (("throughput_ops_s", 1.5), ("throughput_ops_s", 2.0), ("p99_s", 2.0),
              ("p99_s", 3.0), ("breaking_point", 2.0), ("exponent", 0.5))


def record(n: int, out: Path, ref: str = "HEAD") -> None:
    settings = load_settings()
    sha = resolve_commit(settings.repo_path, ref)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "at", encoding="utf-8") as sink:
        for i in range(n):
            with tempfile.TemporaryDirectory(prefix="stress-noise-") as tmp:
                outcome = run_in_worktree(settings, sha, "stress", Path(tmp) / "b.json", (),
                                          env={STRESS_DIR_ENV: str(Path(tmp) / "stress")})
                figures = load_stress_figures(Path(tmp))
                error = error_text(outcome)
                first = error.splitlines()[0] if error else None
                sink.write(stress_corpus_line(figures, sha=sha, run=i, error=first,
                                              duration_s=outcome.duration_s))
                sink.flush()
                print(f"run {i + 1}/{n}: {outcome.duration_s:.1f} s, {len(figures)} figures"
                      + (f", failed: {first}" if error else ""), flush=True)


def replay(path: Path, trials: int = 2000, seed: int = 1) -> None:
    runs = load_stress_corpus(path)
    print(f"{len(runs)} runs of one commit from {path}")
    # Every ordered pair of distinct runs through the screen alone.
    pairs = flagged = 0
    by_figure: dict[tuple[str, str, str], int] = {}
    for i, base in enumerate(runs):
        for j, current in enumerate(runs):
            if i == j:
                continue
            pairs += 1
            hits = [c for c in compare_stress(base, current)
                    if c.verdict is Verdict.REGRESSION]
            flagged += bool(hits)
            for c in hits:
                by_figure[(c.scenario, c.figure)] = by_figure.get((c.scenario, c.figure), 0) + 1
    print(f"screen alone: {flagged / pairs:.1%} of {pairs} same-commit pairs get a regression")
    for (scenario, figure), n in sorted(by_figure.items(), key=lambda kv: -kv[1]):
        print(f"  {scenario:24s} {figure:18s} {n / pairs:.1%}")
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


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "record":
        record(int(sys.argv[2]), Path(sys.argv[3]), *(sys.argv[4:5]))
    elif command == "replay":
        replay(Path(sys.argv[2]), *(int(a) for a in sys.argv[3:5]))
    else:
        sys.exit(__doc__)
