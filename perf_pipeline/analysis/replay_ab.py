"""Replayed A/B runs alone, every benchmark a target: ``perf-pipeline ab --adaptive``
(``sequential_ab``) and the fixed-round ``perf-pipeline ab`` (``compare_rounds``), judged
by the product's own functions (``analysis.replay``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from perf_pipeline.analysis.ab_left_out import usable_rounds
from perf_pipeline.analysis.confirmation import AB_PROCESSES
from perf_pipeline.analysis.noise_recording import NoiseRecording, widened_blocks
from perf_pipeline.analysis.replay_inputs import replay_ab_rounds
from perf_pipeline.analysis.rounds import compare_rounds
from perf_pipeline.analysis.sequential import sequential_ab
from perf_pipeline.analysis.variance_prior import VariancePrior

__all__ = ["SLOW_HIT_ROUNDS", "ABRates", "replay_adaptive_ab", "replay_fixed_ab"]


#: The issue's bound on the rounds a doubling may take (``ABRates.slow_hits``).
SLOW_HIT_ROUNDS = 6


@dataclass(frozen=True, slots=True)
class ABRates:
    """An A/B run alone (every benchmark a target), for one injected change."""

    trials: int
    effect: float
    n_benchmarks: int
    any_regression: float  # A/A false-alarm rate
    hit: float  # the slowed benchmark confirmed
    median_rounds_to_hit: float  # rounds at which the slowed benchmark was decided
    max_rounds_to_hit: float
    median_rounds: float  # rounds the whole run used
    #: Trials whose slowed benchmark was found only after ``SLOW_HIT_ROUNDS`` rounds.
    slow_hits: int = 0
    #: Any benchmark called a regression *or an improvement*: the A/A false-alarm rate of
    #: a two-sided A/B (``any_regression`` counts the one side a gate acts on).
    any_change: float = 0.0
    #: (recorded benchmark, trials it was the slowed one, trials it was found), as
    #: ``GateRates.by_benchmark``.
    by_benchmark: tuple[tuple[str, int, int], ...] = ()


def _ab_trials(recording: NoiseRecording, rng: np.random.Generator,
               n_benchmarks: int | None, trials: int, effect: float, processes: int
               ) -> Iterator[tuple[str, str, Iterator[dict[str, tuple[float, float]]]]]:
    """Per trial of an A/B study: (the benchmark slowed, the recorded benchmark it was
    drawn from, its rounds), one random benchmark slowed by ``effect`` on the candidate
    side."""
    for rec in widened_blocks(recording, rng, n_benchmarks, trials):
        slowed = int(rng.integers(0, len(rec.names)))
        yield rec.names[slowed], recording.drawn_from(slowed), replay_ab_rounds(
            rec, rng, slowed={slowed: effect} if effect != 1.0 else None, processes=processes)


def replay_adaptive_ab(recording: NoiseRecording, rng: np.random.Generator, *, trials: int,
                       effect: float = 1.0, n_benchmarks: int | None = None,
                       threshold: float = 1.0, alpha: float = 0.01,
                       max_rounds: int = 20, processes: int = AB_PROCESSES,
                       prior: VariancePrior | None = None) -> ABRates:
    """Replay ``perf-pipeline ab --adaptive``: ``sequential_ab`` over every benchmark
    (``prior``: its variance prior, from another recording than this one)."""
    any_reg = any_change = hits = 0
    to_hit: list[int] = []
    used: list[int] = []
    slowed_by: dict[str, list[int]] = {}
    width = len(recording.names) if n_benchmarks is None else n_benchmarks
    for slowed, drawn_from, rounds in _ab_trials(recording, rng, n_benchmarks, trials, effect,
                                                 processes):
        result = sequential_ab(rounds, threshold=threshold, alpha=alpha, max_rounds=max_rounds,
                               prior=prior)
        confirmed = {r.name for r in result.comparison.regressions}
        any_reg += bool(confirmed)
        any_change += bool(confirmed or result.comparison.improvements)
        if slowed in confirmed:
            hits += 1
            to_hit.append(result.decided_at[slowed])
        counts = slowed_by.setdefault(drawn_from, [0, 0])
        counts[0] += 1
        counts[1] += slowed in confirmed
        used.append(result.rounds_used)
    return ABRates(
        trials=trials, effect=effect, n_benchmarks=width, any_regression=any_reg / trials,
        hit=hits / trials,
        median_rounds_to_hit=float(np.median(to_hit)) if to_hit else math.nan,
        max_rounds_to_hit=float(np.max(to_hit)) if to_hit else math.nan,
        median_rounds=float(np.median(used)),
        slow_hits=sum(r > SLOW_HIT_ROUNDS for r in to_hit), any_change=any_change / trials,
        by_benchmark=tuple((name, n, hit) for name, (n, hit) in sorted(slowed_by.items())))


def replay_fixed_ab(recording: NoiseRecording, rng: np.random.Generator, *, trials: int,
                    effect: float = 1.0, n_benchmarks: int | None = None,
                    threshold: float = 1.0, alpha: float = 0.01, rounds: int = 10,
                    processes: int = AB_PROCESSES) -> ABRates:
    """Replay ``perf-pipeline ab`` (fixed rounds): ``compare_rounds`` over ``rounds``
    replayed rounds, the values as the product takes them (``round_value``)."""
    any_reg = hits = 0
    width = len(recording.names) if n_benchmarks is None else n_benchmarks
    for slowed, _, feed in _ab_trials(recording, rng, n_benchmarks, trials, effect,
                                      processes):
        pairs = list(itertools.islice(feed, rounds))
        # As ``perf-pipeline ab``: a benchmark with a round of 0.0 s is left out.
        base, candidate, _ = usable_rounds({b: [r[b][0] for r in pairs] for b in pairs[0]},
                                           {b: [r[b][1] for r in pairs] for b in pairs[0]})
        comparison = compare_rounds(base, candidate, threshold=threshold, alpha=alpha)
        confirmed = {r.name for r in comparison.regressions}
        any_reg += bool(confirmed)
        hits += slowed in confirmed
    found = float(rounds) if hits else math.nan
    return ABRates(trials=trials, effect=effect, n_benchmarks=width,
                   any_regression=any_reg / trials, hit=hits / trials,
                   median_rounds_to_hit=found, max_rounds_to_hit=found,
                   median_rounds=float(rounds))
