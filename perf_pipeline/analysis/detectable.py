"""``detectable_changes(recording)``: the smallest slowdown an A/B finds on this machine.

A spread per benchmark (``noise_profile``) does not tell a team what it wants to know
before it trusts a gate: *which of our benchmarks can a +5 % change be found in, and
how large must a change be for the rest?* The answer depends on the tails, the suite
factor, the looks and the level, which no formula of a spread captures (on this
project's shared VM the sequential A/B found 0.67–0.75 of what a test told the noise's
true scale and tails finds, README). So it
is replayed: for each benchmark, A/Bs of the whole recorded suite are drawn from the
recording itself (``replay_ab_rounds``: rounds of ``processes`` consecutive recorded
pairs per side, the base side at random) with that benchmark slowed by a known factor on
the candidate side, and judged by ``sequential_ab``, the function ``perf-pipeline ab
--adaptive`` calls. The smallest factor of a fixed ladder found in at least ``power`` of
them is the benchmark's detectable change.

Two things to read it by. It is *in sample*: it says what the A/B would do if the
machine stays as noisy as when it was recorded (a noisier day finds less; the A/B says
when a day is much noisier than its recording). And it uses no variance prior, so a
calibrated machine's A/B does a few points better at small changes; the figures lean
cautious. Every effect of one benchmark is replayed on the same drawn rounds (common
random numbers), so its shares rise with the effect as they should and the ladder can
be bisected: about four effects per benchmark, +5 % first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from perf_pipeline.analysis.confirmation import AB_PROCESSES
from perf_pipeline.analysis.noise_recording import NoiseRecording
from perf_pipeline.analysis.replay_inputs import replay_ab_rounds
from perf_pipeline.analysis.sequential import DEFAULT_MAX_ROUNDS, DEFAULT_MIN_ROUNDS, sequential_ab
from perf_pipeline.errors import InvalidInputError

__all__ = [
    "DETECTABLE_EFFECTS",
    "DETECTABLE_POWER",
    "DETECTABLE_TRIALS",
    "Detectability",
    "DetectableChange",
    "detectable_changes",
]

#: The slowdowns tried, smallest first: the issue's +5 % and +10 % targets, and the
#: steps a team would quote between them and a doubling.
DETECTABLE_EFFECTS: tuple[float, ...] = (1.02, 1.03, 1.05, 1.07, 1.10, 1.15, 1.20, 1.30,
                                         1.50, 2.0)
#: Tried first: the change the detection targets name.
TARGET_EFFECT = 1.05
#: Found in this share of A/Bs counts as "can be found" (the detection targets' 90 %).
DETECTABLE_POWER = 0.9
#: A/Bs per benchmark and effect: 60 put a true 90 % within about ±4 points (one
#: standard error), enough to tell a quiet benchmark from a noisy one, at about 0.2 s of
#: CPU per benchmark and effect on a suite of nine.
DETECTABLE_TRIALS = 60


@dataclass(frozen=True, slots=True)
class DetectableChange:
    """One benchmark's replayed A/Bs: ``found`` holds (effect, share of A/Bs in which the
    slowed benchmark was confirmed a regression), for each effect the bisection tried,
    smallest first. ``smallest`` is the smallest effect of the ladder found in at least
    the study's power, its next smaller one not (None: not even the largest was)."""

    name: str
    found: tuple[tuple[float, float], ...]
    smallest: float | None
    #: Its robust factor-free spread per round (``NoiseRecording.factor_free_spreads``):
    #: what the A/B faces, beside what it found.
    spread: float = math.nan

    def share_at(self, effect: float) -> float | None:
        """The share found at ``effect``, or None where the bisection did not try it."""
        for tried, share in self.found:
            if math.isclose(tried, effect):
                return share
        return None


@dataclass(frozen=True, slots=True)
class Detectability:
    """What ``sequential_ab`` finds on one recording's noise, benchmark by benchmark."""

    benchmarks: tuple[DetectableChange, ...]
    max_rounds: int
    processes: int
    power: float
    alpha: float
    trials: int
    #: Distinct rounds the recording holds (its pairs // processes).
    distinct_rounds: int


def _check(recording: NoiseRecording, max_rounds: int, processes: int, power: float,
           alpha: float, trials: int, effects: Sequence[float]) -> None:
    if not isinstance(recording, NoiseRecording):
        raise InvalidInputError(
            f"`recording` must be a NoiseRecording, not {type(recording).__name__}")
    if not (isinstance(max_rounds, int) and max_rounds >= DEFAULT_MIN_ROUNDS):
        raise InvalidInputError(f"`max_rounds` must be an integer >= {DEFAULT_MIN_ROUNDS}, "
                                f"not {max_rounds!r}")
    if not (isinstance(processes, int) and processes >= 1):
        raise InvalidInputError(f"`processes` must be an integer >= 1, not {processes!r}")
    if not 0.0 < power < 1.0:
        raise InvalidInputError(f"`power` must be in (0, 1), not {power!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"`alpha` must be in (0, 1), not {alpha!r}")
    if not (isinstance(trials, int) and trials >= 1):
        raise InvalidInputError(f"`trials` must be an integer >= 1, not {trials!r}")
    if (not effects or any(not (math.isfinite(e) and e > 1.0) for e in effects)
            or list(effects) != sorted(set(effects))):
        raise InvalidInputError("`effects` must be slowdowns > 1, increasing, without "
                                f"repeats; got {tuple(effects)!r}")
    distinct = recording.n_pairs // processes
    if distinct < max_rounds:
        # A 20-round A/B replayed from fewer distinct rounds counts some rounds twice, as
        # if they were independent: its figures would flatter the machine.
        raise InvalidInputError(
            f"the recording holds {recording.n_pairs} pairs, {distinct} distinct rounds of "
            f"{processes} process(es) per side; replaying A/Bs of up to {max_rounds} rounds "
            f"needs {max_rounds} ({max_rounds * processes} pairs)")


def _share_found(recording: NoiseRecording, column: int, effect: float, *, seed: int,
                 trials: int, max_rounds: int, processes: int, alpha: float) -> float:
    rng = np.random.default_rng(seed)  # the same rounds for every effect of a benchmark
    name = recording.names[column]
    found = 0
    for _ in range(trials):
        rounds = replay_ab_rounds(recording, rng, slowed={column: effect},
                                  processes=processes)
        result = sequential_ab(rounds, threshold=1.0, alpha=alpha, max_rounds=max_rounds)
        found += name in {r.name for r in result.comparison.regressions}
    return found / trials


def detectable_changes(recording: NoiseRecording, *, max_rounds: int = DEFAULT_MAX_ROUNDS,
                       processes: int = AB_PROCESSES, power: float = DETECTABLE_POWER,
                       alpha: float = 0.01, trials: int = DETECTABLE_TRIALS,
                       effects: Sequence[float] = DETECTABLE_EFFECTS, seed: int = 0,
                       on_benchmark: Callable[[int, int], None] | None = None,
                       ) -> Detectability:
    """Per benchmark, the smallest of ``effects`` that an adaptive A/B of the whole suite
    (``sequential_ab`` at threshold 1.0, so the statistics alone decide; ``alpha``; at most
    ``max_rounds`` rounds of ``processes`` processes per side; no variance prior) confirms
    in at least ``power`` of ``trials`` A/Bs replayed from ``recording``.

    The ladder is bisected, +5 % first (the target teams quote), so a benchmark costs
    about four replayed effects whatever its noise; ``on_benchmark(done, total)`` is told
    after each benchmark. Raises ``InvalidInputError`` for bad options or a recording of
    fewer distinct rounds than ``max_rounds``.
    """
    _check(recording, max_rounds, processes, power, alpha, trials, effects)
    ladder = tuple(effects)
    start = next((i for i, e in enumerate(ladder) if math.isclose(e, TARGET_EFFECT)),
                 len(ladder) // 2)
    spreads, _ = recording.factor_free_spreads(processes)
    rows = []
    for column, name in enumerate(recording.names):
        shares: dict[int, float] = {}
        lo, hi = 0, len(ladder)  # the answer's index is in [lo, hi]; len(ladder): none
        probe = start
        while lo < hi:
            shares[probe] = _share_found(recording, column, ladder[probe],
                                         seed=seed + column, trials=trials,
                                         max_rounds=max_rounds, processes=processes,
                                         alpha=alpha)
            if shares[probe] >= power:
                hi = probe
            else:
                lo = probe + 1
            probe = (lo + hi) // 2
        rows.append(DetectableChange(
            name=name, found=tuple((ladder[i], shares[i]) for i in sorted(shares)),
            smallest=ladder[lo] if lo < len(ladder) else None, spread=float(spreads[column])))
        if on_benchmark is not None:
            on_benchmark(column + 1, len(recording.names))
    return Detectability(benchmarks=tuple(rows), max_rounds=max_rounds, processes=processes,
                         power=power, alpha=alpha, trials=trials,
                         distinct_rounds=recording.n_pairs // processes)
