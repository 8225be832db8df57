"""Replayed commits through the two-stage gate: the screen against a stored baseline,
then the interleaved A/B confirmation of what it flags (``analysis.replay``).

Every trial is judged by ``build_baseline``/``compare_to_baseline`` (``screen_run``),
``plan_confirmation`` and ``confirm_flagged``: the functions the product calls, never a
copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from perf_pipeline.analysis.baseline import build_baseline, compare_to_baseline
from perf_pipeline.analysis.confirmation import (
    AB_PROCESSES,
    CONFIRM_MAX_ROUNDS,
    SCREEN_ALPHA,
    SCREEN_CORRECTION,
    SCREEN_REQUIRE_RAW,
    confirm_flagged,
    plan_confirmation,
    screen_run,
)
from perf_pipeline.analysis.noise_recording import NoiseRecording, widened_blocks
from perf_pipeline.analysis.replay_inputs import replay_ab_rounds, replay_screen_runs
from perf_pipeline.analysis.sequential_result import SequentialResult
from perf_pipeline.analysis.variance_prior import VariancePrior
from perf_pipeline.model import SuiteComparison, Verdict

__all__ = ["GateRates", "TwoStageTrial", "replay_gate", "two_stage_trial"]


@dataclass(frozen=True, slots=True)
class TwoStageTrial:
    """One replayed commit through screen and confirmation."""

    screen: SuiteComparison
    flagged: tuple[str, ...]
    confirmation: SequentialResult | None
    one_stage: SuiteComparison  # the screen alone at the gate's alpha, Holm: the old gate
    #: What the confirmation decided: the flags, then ``suspects_for_confirmation``.
    targets: tuple[str, ...] = ()

    @property
    def confirmed(self) -> tuple[str, ...]:
        if self.confirmation is None:
            return ()
        return tuple(r.name for r in self.confirmation.comparison.results
                     if r.comparison.verdict is Verdict.REGRESSION)

    @property
    def rounds(self) -> int:
        return self.confirmation.rounds_used if self.confirmation else 0

    @property
    def rounds_per_flag(self) -> float:
        """Rounds each benchmark the confirmation decided (flagged or suspect) was measured,
        on average: what a confirmation that drops decided benchmarks spends on them."""
        if not self.confirmation or not self.targets:
            return 0.0
        return self.confirmation.target_rounds / len(self.targets)


def two_stage_trial(recording: NoiseRecording, rng: np.random.Generator, *,
                    slowed: Mapping[int, float] | None = None, threshold: float = 1.0,
                    alpha: float = 0.01, screen_alpha: float = SCREEN_ALPHA,
                    max_rounds: int = CONFIRM_MAX_ROUNDS, baseline_runs: int = 10,
                    processes_per_run: int = 3, ab_processes: int = AB_PROCESSES,
                    prior: VariancePrior | None = None) -> TwoStageTrial:
    """Screen a replayed commit against its replayed baseline, confirm what it flags
    (``prior``: the confirmation's variance prior, from another recording)."""
    runs, current = replay_screen_runs(recording, rng, slowed=slowed,
                                       baseline_runs=baseline_runs,
                                       processes_per_run=processes_per_run)
    baseline = build_baseline(runs, created_at="2000-01-01T00:00:00+00:00")
    screen = (screen_run(baseline, current, threshold=threshold) if screen_alpha == SCREEN_ALPHA
              else compare_to_baseline(baseline, current, threshold=threshold,
                                       alpha=screen_alpha, correction=SCREEN_CORRECTION,
                                       require_raw=SCREEN_REQUIRE_RAW))
    one_stage = compare_to_baseline(baseline, current, threshold=threshold, alpha=alpha)
    plan = plan_confirmation(screen)
    if not plan.flagged:
        return TwoStageTrial(screen=screen, flagged=(), confirmation=None, one_stage=one_stage)
    measured = sorted({*(n for n in plan.targets if n in recording.names), *plan.controls})
    rounds = replay_ab_rounds(recording, rng, slowed=slowed, names=measured,
                              processes=ab_processes)
    result = confirm_flagged(rounds, plan.targets, threshold=threshold, alpha=alpha,
                             max_rounds=max_rounds, weights=plan.weights,
                             expected=plan.expected, prior=prior)
    return TwoStageTrial(screen=screen, flagged=plan.flagged, confirmation=result,
                         one_stage=one_stage, targets=plan.targets)


@dataclass(frozen=True, slots=True)
class GateRates:
    """Shares of replayed commits, for one injected change (``effect``; 1.0 is A/A).

    ``*_any``: any benchmark (or the suite shift) called a regression — the false-alarm
    rate under A/A. ``*_hit``: the slowed benchmark called a regression — the power.
    ``one_stage``: the screen alone at ``alpha`` (the gate without confirmation);
    ``flagged``: the screen at its own level (``flagged_hit``: it flagged the slowed
    benchmark; the confirmation may still find one it did not, as a suspect);
    ``confirmed``: after the A/B confirmation.
    """

    trials: int
    effect: float
    n_benchmarks: int
    one_stage_any: float
    one_stage_hit: float
    flagged_any: float
    flagged_hit: float
    confirmed_any: float
    confirmed_hit: float
    confirmations: int
    median_rounds: float  # over the trials that ran a confirmation (nan if none)
    #: Median over those trials of the rounds per benchmark decided (``rounds_per_flag``).
    median_rounds_per_flag: float = math.nan
    #: (recorded benchmark, trials it was the slowed one, trials it was confirmed), by
    #: name; widened columns count for the benchmark they were drawn from.
    by_benchmark: tuple[tuple[str, int, int], ...] = ()



def replay_gate(recording: NoiseRecording, rng: np.random.Generator, *, trials: int,
                effect: float = 1.0, n_benchmarks: int | None = None,
                threshold: float = 1.0, alpha: float = 0.01,
                screen_alpha: float = SCREEN_ALPHA,
                max_rounds: int = CONFIRM_MAX_ROUNDS,
                ab_processes: int = AB_PROCESSES,
                prior: VariancePrior | None = None) -> GateRates:
    """Replay ``trials`` commits through the two-stage gate; one random benchmark is
    ``effect`` times slower (in the current run and on the candidate side of rounds)."""
    one_any = one_hit = flag_any = flag_hit = conf_any = conf_hit = 0
    rounds: list[int] = []
    per_flag: list[float] = []
    slowed_by: dict[str, list[int]] = {}
    width = 0
    for rec in widened_blocks(recording, rng, n_benchmarks, trials):
        width = len(rec.names)
        slowed = int(rng.integers(0, width))
        trial = two_stage_trial(rec, rng, slowed={slowed: effect} if effect != 1.0 else None,
                                threshold=threshold, alpha=alpha, screen_alpha=screen_alpha,
                                max_rounds=max_rounds, ab_processes=ab_processes,
                                prior=prior)
        one = {r.name for r in trial.one_stage.regressions}
        one_any += bool(one)
        one_hit += rec.names[slowed] in one
        flag_any += bool(trial.flagged)
        flag_hit += rec.names[slowed] in trial.flagged
        conf_any += bool(trial.confirmed)
        conf_hit += rec.names[slowed] in trial.confirmed
        counts = slowed_by.setdefault(recording.drawn_from(slowed), [0, 0])
        counts[0] += 1
        counts[1] += rec.names[slowed] in trial.confirmed
        if trial.confirmation is not None:
            rounds.append(trial.rounds)
            per_flag.append(trial.rounds_per_flag)
    return GateRates(
        trials=trials, effect=effect, n_benchmarks=width, one_stage_any=one_any / trials,
        one_stage_hit=one_hit / trials, flagged_any=flag_any / trials,
        flagged_hit=flag_hit / trials,
        confirmed_any=conf_any / trials, confirmed_hit=conf_hit / trials,
        confirmations=len(rounds),
        median_rounds=float(np.median(rounds)) if rounds else math.nan,
        median_rounds_per_flag=float(np.median(per_flag)) if per_flag else math.nan,
        by_benchmark=tuple((name, n, hit) for name, (n, hit) in sorted(slowed_by.items())))
