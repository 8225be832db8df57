"""What a recording replays as: a screen trial's stored runs (consecutive processes
grouped into runs, a baseline window and the next run, in recorded order) and an A/B's
rounds (consecutive recorded pairs, the base side drawn per round). The design and its
reasons are in ``replay.py``'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from perf_pipeline.analysis.confirmation import AB_PROCESSES
from perf_pipeline.analysis.noise_recording import NoiseRecording
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import BenchmarkResult, RunStatus, Samples, SuiteRun

__all__ = ["replay_ab_rounds", "replay_screen_runs"]


def _run(recording: NoiseRecording, procs: Sequence[int], index: int,
         scale: Mapping[int, float]) -> SuiteRun:
    benches = []
    for b, name in enumerate(recording.names):
        pooled = np.concatenate([recording.samples[p][b] for p in procs]) * scale.get(b, 1.0)
        benches.append(BenchmarkResult(name=name, samples_s=Samples(pooled)))
    return SuiteRun(run_id=f"replay-{index}", suite="benchmarks",
                    started_at=f"2000-01-01T{index // 60:02d}:{index % 60:02d}:00+00:00",
                    status=RunStatus.SUCCESS, benchmarks=tuple(benches))


def replay_screen_runs(recording: NoiseRecording, rng: np.random.Generator, *,
                       slowed: Mapping[int, float] | None = None, baseline_runs: int = 10,
                       processes_per_run: int = 3) -> tuple[list[SuiteRun], SuiteRun]:
    """(baseline runs oldest first, current run) from a random start in the recording;
    ``slowed`` maps benchmark index -> factor applied to the current run's samples."""
    span = (baseline_runs + 1) * processes_per_run
    if span > recording.n_processes:
        raise InvalidInputError(f"the recording has {recording.n_processes} processes, a "
                                f"screen trial needs {span}")
    start = int(rng.integers(0, recording.n_processes - span + 1))
    runs = [_run(recording, range(start + r * processes_per_run,
                                  start + (r + 1) * processes_per_run), r, {})
            for r in range(baseline_runs)]
    cur_start = start + baseline_runs * processes_per_run
    current = _run(recording, range(cur_start, cur_start + processes_per_run), baseline_runs,
                   dict(slowed or {}))
    return runs, current


def replay_ab_rounds(recording: NoiseRecording, rng: np.random.Generator, *,
                     slowed: Mapping[int, float] | None = None,
                     names: Sequence[str] | None = None,
                     processes: int = AB_PROCESSES,
                     ) -> Iterator[dict[str, tuple[float, float]]]:
    """Endless rounds {name: (base, candidate)} of ``round_value``s from a random start.

    Each round is ``processes`` consecutive recorded pairs (``side_values``); its base
    side is drawn at random; ``names`` restricts the rounds to those benchmarks (a
    confirmation measures only flagged ones and controls).
    """
    slowed = dict(slowed or {})
    index = {n: i for i, n in enumerate(recording.names)}
    chosen = [index[n] for n in (names if names is not None else recording.names)]
    sides = recording.side_values(processes)
    r = int(rng.integers(0, len(sides)))
    while True:
        # The product draws each round's order at random (``measure.ab_rounds``): so does the
        # replay, or an order effect of the machine would pose as a change.
        base_side = int(rng.integers(0, 2))
        b_row = sides[r, base_side]
        c_row = sides[r, 1 - base_side]
        yield {recording.names[i]: (float(b_row[i]), float(c_row[i]) * slowed.get(i, 1.0))
               for i in chosen}
        r = (r + 1) % len(sides)
