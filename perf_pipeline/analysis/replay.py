"""Replay recorded real noise through the product's own judging code.

A rule is only as good as its false-alarm rate and power on the noise of the machines it
runs on, and a synthetic model is kinder than a shared VM (heavy tails, bimodal kernels,
slow drifts, a factor per process). So the studies and the statistics tests replay a
*recording*: fresh pytest processes of one commit, measured as interleaved pairs of two
worktrees (``perf-pipeline calibrate``), each process its own unit of noise. Changes of
known size are injected by scaling the samples of one benchmark on one side.

* **Screen trials** (stored baseline): consecutive processes are grouped into runs of
  ``processes_per_run`` (their samples pooled, as ``merge_processes`` does), the baseline
  is ``baseline_runs`` consecutive runs from a random start and the current run is the
  next one: the time order of the recording, drift included, is kept.
* **A/B rounds**: ``processes`` consecutive recorded pairs make one round (each side's
  value is ``round_value`` of its processes' samples together, as the product measures a
  side of a round in ``ab_processes`` processes; base side drawn at random per round);
  rounds are taken in recorded order from a random start.
* **Wider suites**: a recording of a few benchmarks stands in for a suite of ``n`` by
  keeping each process's real suite-wide factor and giving every further column the real
  residual of one of the recorded benchmarks in another, randomly drawn process (its
  samples rescaled by the two processes' factors). Columns stay real in their
  distribution (tails, modes) but their residuals are independent across copies.

Every trial is judged by ``build_baseline``/``compare_to_baseline``, ``choose_controls``
and ``sequential_ab`` (``compare_rounds`` for the fixed-round A/B): the functions the
product calls, never a copy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

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
    round_value,
    screen_run,
)
from perf_pipeline.analysis.rounds import compare_rounds
from perf_pipeline.analysis.sequential import sequential_ab
from perf_pipeline.analysis.sequential_result import SequentialResult
from perf_pipeline.analysis.variance_prior import PRIOR_DF, VariancePrior, variance_prior
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    BenchmarkResult,
    NoiseCorpus,
    RunStatus,
    Samples,
    SuiteComparison,
    SuiteRun,
    Verdict,
)

__all__ = [
    "ABRates",
    "GateRates",
    "NoiseRecording",
    "TwoStageTrial",
    "replay_ab_rounds",
    "replay_adaptive_ab",
    "replay_fixed_ab",
    "replay_gate",
    "replay_screen_runs",
    "two_stage_trial",
    "widen",
]


@dataclass(frozen=True)
class NoiseRecording:
    """Processes in recorded order; processes ``2i`` and ``2i + 1`` form pair ``i``.

    ``samples[p][b]`` holds the samples (seconds) of benchmark ``names[b]`` in process
    ``p``.
    """

    names: tuple[str, ...]
    samples: tuple[tuple[np.ndarray, ...], ...]

    def __post_init__(self) -> None:
        if len(self.samples) < 4 or len(self.samples) % 2:
            raise InvalidInputError("a noise recording needs an even number (>= 4) of "
                                    f"processes, got {len(self.samples)}")
        for p, proc in enumerate(self.samples):
            if len(proc) != len(self.names):
                raise InvalidInputError(f"process {p}: {len(proc)} benchmarks, "
                                        f"expected {len(self.names)}")
            for b, s in enumerate(proc):
                if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
                    raise InvalidInputError(f"process {p}, benchmark {self.names[b]!r}: "
                                            "samples must be finite and > 0")

    @classmethod
    def from_pairs(cls, names: Sequence[str],
                   pairs: Sequence[tuple[Sequence[Sequence[float]], Sequence[Sequence[float]]]]
                   ) -> NoiseRecording:
        """From ``(first process, second process)`` per pair, each a list per benchmark."""
        procs = []
        for first, second in pairs:
            procs.append(tuple(np.asarray(s, dtype=float) for s in first))
            procs.append(tuple(np.asarray(s, dtype=float) for s in second))
        return cls(names=tuple(names), samples=tuple(procs))

    @classmethod
    def from_corpus(cls, corpus: NoiseCorpus) -> NoiseRecording:
        """Processes in the order they ran (each pair's recorded order)."""
        return cls.from_pairs(corpus.benchmarks, [
            (pair.side(pair.order[0]), pair.side(pair.order[1])) for pair in corpus.pairs])

    @property
    def n_processes(self) -> int:
        return len(self.samples)

    @property
    def n_pairs(self) -> int:
        return len(self.samples) // 2

    def side_values(self, processes: int) -> np.ndarray:
        """(rounds, 2, benchmarks): what each side of a round of ``processes`` consecutive
        pairs gives (``round_value`` of the side's processes' samples together)."""
        if not 1 <= processes <= self.n_pairs:
            raise InvalidInputError(f"`processes` must be in 1..{self.n_pairs}, got "
                                    f"{processes!r}")
        cached = self._side_values.get(processes)
        if cached is None:
            cached = np.array([
                [[round_value(np.concatenate([self.samples[2 * (r + j) + side][b]
                                              for j in range(processes)]))
                  for b in range(len(self.names))] for side in (0, 1)]
                for r in range(0, self.n_pairs - processes + 1, processes)])
            self._side_values[processes] = cached
        return cached

    def factor_free_spreads(self, processes: int) -> tuple[np.ndarray, np.ndarray]:
        """(robust, plain) spread per benchmark of a round's log-ratio once the round's
        suite factor (median over benchmarks) is removed: what an A/B test of it faces.
        Robust: 1.4826 x the median absolute deviation; plain: the sd, tails and all."""
        sides = np.log(self.side_values(processes))
        ratios = sides[:, 1] - sides[:, 0]
        resid = ratios - np.median(ratios, axis=1)[:, None]
        centred = resid - np.median(resid, axis=0)
        return 1.4826 * np.median(np.abs(centred), axis=0), np.std(resid, axis=0, ddof=1)

    def drawn_from(self, column: int) -> str:
        """The recorded benchmark column ``column`` of a suite widened from this
        recording is drawn from (``widen``: column j from recorded j % count)."""
        return self.names[column % len(self.names)]

    @cached_property
    def _side_values(self) -> dict[int, np.ndarray]:
        return {}

    @cached_property
    def _log_medians(self) -> np.ndarray:
        return np.log(np.array([[np.median(s) for s in proc] for proc in self.samples]))

    def log_medians(self) -> np.ndarray:
        """(processes, benchmarks) log of each process's median."""
        return self._log_medians.copy()


def _factors(log_med: np.ndarray) -> np.ndarray:
    """Each process's suite-wide factor: median over benchmarks of its deviation."""
    return np.median(log_med - np.median(log_med, axis=0), axis=1)


def widen(recording: NoiseRecording, n_benchmarks: int, rng: np.random.Generator
          ) -> NoiseRecording:
    """A recording of ``n_benchmarks`` columns (module docstring); the first are real."""
    base = len(recording.names)
    if n_benchmarks <= base:
        keep = range(n_benchmarks)
        return NoiseRecording(names=tuple(recording.names[i] for i in keep),
                              samples=tuple(tuple(p[i] for i in keep)
                                            for p in recording.samples))
    factor = _factors(recording.log_medians())
    n_proc = recording.n_processes
    cols = [(i, None) for i in range(base)] + [
        (j % base, rng.integers(0, n_proc, size=n_proc)) for j in range(base, n_benchmarks)]
    names = tuple(recording.names[i] if donors is None else f"{recording.names[i]}~{j}"
                  for j, (i, donors) in enumerate(cols))
    procs = []
    for p in range(n_proc):
        row = []
        for i, donors in cols:
            if donors is None:
                row.append(recording.samples[p][i])
            else:
                q = int(donors[p])
                row.append(recording.samples[q][i] * math.exp(factor[p] - factor[q]))
        procs.append(tuple(row))
    return NoiseRecording(names=names, samples=tuple(procs))


def recording_prior(recording: NoiseRecording, *, processes: int = AB_PROCESSES,
                    df: float = PRIOR_DF, source: str = "") -> VariancePrior:
    """The variance prior (``analysis.variance_prior``) a recording gives an A/B of
    ``processes`` per side: its pairs grouped into rounds as ``replay_ab_rounds`` and
    the product's rounds group them. The product takes it from this machine's
    ``calibrate`` corpus; the studies from the *other* recording than the one judged."""
    sides = recording.side_values(processes)
    return variance_prior(
        ({name: (float(r[0, b]), float(r[1, b])) for b, name in enumerate(recording.names)}
         for r in sides), df=df, source=source)


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


def _blocks(recording: NoiseRecording, rng: np.random.Generator, n_benchmarks: int | None,
            trials: int, block: int = 25) -> Iterator[NoiseRecording]:
    """The recording, widened anew every ``block`` trials when more columns are asked."""
    for t in range(trials):
        if t % block == 0:
            current = (recording if n_benchmarks is None
                       else widen(recording, n_benchmarks, rng))
        yield current


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
    for rec in _blocks(recording, rng, n_benchmarks, trials):
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
    for rec in _blocks(recording, rng, n_benchmarks, trials):
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
        comparison = compare_rounds({b: [r[b][0] for r in pairs] for b in pairs[0]},
                                    {b: [r[b][1] for r in pairs] for b in pairs[0]},
                                    threshold=threshold, alpha=alpha)
        confirmed = {r.name for r in comparison.regressions}
        any_reg += bool(confirmed)
        hits += slowed in confirmed
    found = float(rounds) if hits else math.nan
    return ABRates(trials=trials, effect=effect, n_benchmarks=width,
                   any_regression=any_reg / trials, hit=hits / trials,
                   median_rounds_to_hit=found, max_rounds_to_hit=found,
                   median_rounds=float(rounds))
