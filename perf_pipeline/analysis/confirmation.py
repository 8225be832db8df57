"""What a confirmation run measures: the screen's flags, plus a few controls.

The stored-baseline screen runs at a loose level (``SCREEN_ALPHA``) so that it misses
little; every benchmark it calls a regression is then confirmed by an interleaved A/B
run. Only the flagged benchmarks need deciding, but each process carries its own factor
that slows all of its benchmarks together, and it can only be removed when a round holds
several benchmarks. So the A/B run also measures a few unflagged *controls*, chosen as
the most stable benchmarks of the screen (the narrowest intervals: they pin the round's
factor best). A flagged suite-wide shift concerns every benchmark, so the whole suite is
measured then.

These are the only functions that decide the plan; the product (``pipeline/confirm.py``)
and the replay studies call them both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME, compare_to_baseline
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.analysis.sequential import sequential_ab
from perf_pipeline.analysis.sequential_result import SequentialResult
from perf_pipeline.analysis.tails import norm_isf
from perf_pipeline.analysis.variance_prior import VariancePrior
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    TIME_METRIC,
    Baseline,
    Comparison,
    SuiteComparison,
    SuiteRun,
    Verdict,
)

__all__ = [
    "AB_PROCESSES",
    "CONFIRM_MAX_ROUNDS",
    "SCREEN_ALPHA",
    "SCREEN_CORRECTION",
    "ConfirmationPlan",
    "choose_controls",
    "confirm_flagged",
    "flagged_for_confirmation",
    "plan_confirmation",
    "round_value",
    "screen_ratios",
    "screen_run",
    "screen_weights",
    "suspects_for_confirmation",
]

#: Level of the stored-baseline screen when a confirmation follows: the screen only has
#: to be sensitive, the A/B confirmation controls false alarms. Chosen on replayed real
#: noise (README, "How the verdict is decided").
SCREEN_ALPHA = 0.5
#: The screen's flags are not corrected across the suite: the confirmation controls the
#: family-wise level over what it confirms, and Holm at ``SCREEN_ALPHA`` left 29 % of
#: real +10 % slowdowns unflagged among 9 benchmarks (1 % without correction).
SCREEN_CORRECTION = "none"
#: The screen flags a change seen only relative to the suite-wide shift too (the
#: confirmation's own factor removal settles it).
SCREEN_REQUIRE_RAW = False
#: Most rounds of a confirmation (``Settings.confirm_max_rounds``): it measures only the
#: flagged benchmarks and a few controls, drops each as soon as it is decided, and stops
#: when all are, so a large cap costs little on unchanged code (median 13-20 rounds, 10-11
#: per flagged benchmark, on replayed real noise) while a +10 % slowdown of one of the
#: noisiest benchmarks (10-12 % spread per round) needs 30-100 rounds to be confirmed.
CONFIRM_MAX_ROUNDS = 100
#: Processes per side of an A/B round (``Settings.ab_processes``), their samples taken
#: together: a side's value is the fastest sample of all of them. Interference on a
#: shared machine only adds time and the process is the unit of noise (a process is slow
#: or fast as a whole), so the fastest of two processes is much more repeatable than one
#: process, and than two rounds of one. On the replayed real recordings (seed 3, 200
#: commits per cell): the gate's +5 % at 5 benchmarks went from 57.5 to 78.5 % (held-out
#: recording: 81.0 %), A/A 0 %; the adaptive A/B's +5 % at 9 benchmarks from 49 to 73 %,
#: where 40 rounds of one process each gave 56 % and the geometric mean of two processes
#: instead of their fastest sample 41 %. A round costs two processes per side; the
#: confirmation decides in fewer rounds (9.2 against 11.2 per benchmark, A/A, 5
#: benchmarks).
AB_PROCESSES = 2
#: A confirmation that runs examines at least this many benchmarks: the flagged ones, then
#: the unflagged ones the screen could not clear (``suspects_for_confirmation``).
CONFIRM_MIN_TARGETS = 5
#: An unflagged benchmark is a suspect while the screen's signed score of a slowdown is
#: above this: its estimate is less than about half a standard error below "unchanged".
#: (Chosen on replayed real noise as -1 of a score that read the screen's one-sided p as
#: two-sided; the same cut on the true score, so the same suspects, is -0.476.)
SUSPECT_MIN_Z = -0.476
#: Screen scores beyond this add no weight (one benchmark cannot take the whole level).
_MAX_WEIGHT_Z = 6.0


def round_value(samples: Sequence[float]) -> float:
    """The one number a side of an A/B round gives a benchmark: its fastest sample (of
    all the side's processes together, ``AB_PROCESSES``).

    Interference on a shared machine only ever adds time, so the fastest sample of a
    process is the most repeatable summary of what the code costs: on recorded pairs of
    the example suite (same commit, two worktrees, one process each) the per-round
    log-ratio left after removing the round's suite factor had a spread of 7.8 % with the
    minimum, 9.1 % with the 10th percentile and 10.9 % with the median, so the median
    needs about twice the rounds for the same power. Both sides of a round are measured
    alike, so an unchanged commit gets no bias from it.
    """
    if len(samples) == 0:
        raise InvalidInputError("a round value needs at least one sample")
    return float(min(samples))


def screen_run(baseline: Baseline, run: SuiteRun, *, threshold: float,
               metrics: Sequence[str] = (TIME_METRIC,)) -> SuiteComparison:
    """The first stage: ``run`` against its stored baseline at the screen's loose level,
    uncorrected (its regressions are what ``flagged_for_confirmation`` returns)."""
    return compare_to_baseline(baseline, run, threshold=threshold, alpha=SCREEN_ALPHA,
                               correction=SCREEN_CORRECTION, metrics=metrics,
                               require_raw=SCREEN_REQUIRE_RAW)


def flagged_for_confirmation(screen: SuiteComparison) -> tuple[str, ...]:
    """The timing regressions of the screen, the suite-wide shift last if flagged."""
    names = {r.name for r in screen.results
             if r.metric == TIME_METRIC and r.comparison.verdict is Verdict.REGRESSION}
    return tuple(sorted(names, key=lambda n: (n == SUITE_SHIFT_NAME, n)))


def _slowdown_z(comp: Comparison) -> float:
    """Signed normal score of a slowdown from a screen result's p-value, which is
    one-sided in the direction of its change (``runlevel``: the t's upper tail of |t|):
    0 at "no evidence either way", continuous through a ratio of 1. Read as two-sided
    (``p / 2``), it once jumped from -0.67 to +0.67 at a ratio of 1."""
    p = min(max(float(comp.p_value), 1e-300), 0.5)
    ratio = float(comp.ratio)
    if not math.isfinite(ratio):
        return 0.0
    z = float(norm_isf(p))
    return z if ratio > 1.0 else -z


def suspects_for_confirmation(screen: SuiteComparison, flagged: tuple[str, ...], *,
                              minimum: int = CONFIRM_MIN_TARGETS) -> tuple[str, ...]:
    """Unflagged benchmarks the confirmation decides too, when the screen flagged fewer
    than ``minimum`` benchmarks: the most suspicious first, only those the screen could
    not clear (score above ``SUSPECT_MIN_Z``). Nothing flagged: none (no A/B runs).

    The screen's estimate of one benchmark carries that benchmark's run-to-run noise and
    the baseline's drift: on replayed real noise 6-13 % of +10 % slowdowns among 5
    benchmarks came out at or below 1.0, so the screen missed them (at any level: a
    regression needs a ratio above 1) and no confirmation could find them. A round
    measures two processes whatever they run, so deciding a few more benchmarks costs
    little time while an A/B runs anyway, and the confirmation's own level covers every
    target (each gets its share). Chosen on
    replayed real noise (seed 3): confirming every benchmark not cleared (84 % of a
    suite of 50) spread the level so thin that +5 % at 50 benchmarks fell from 66 to
    55 %, hence a small minimum rather than a rule for every benchmark. Measured on the
    held-out seeds of the tests, without -> with suspects: +10 % confirmed at 5
    benchmarks 90.0 -> 92.7 %, at 9 96.7 -> 98.0 %, +5 % at 9 73.3 -> 78.0 %; A/A
    1.0 -> 0.67 % (5) and 0.33 -> 0 % (9).
    """
    if not flagged:
        return ()
    wanted = minimum - sum(1 for n in flagged if n != SUITE_SHIFT_NAME)
    if wanted <= 0:
        return ()
    scored = sorted(
        (-_slowdown_z(r.comparison), r.name) for r in screen.results
        if r.metric == TIME_METRIC and r.name != SUITE_SHIFT_NAME and r.name not in flagged)
    return tuple(sorted(name for neg_z, name in scored[:wanted] if -neg_z > SUSPECT_MIN_Z))


def choose_controls(screen: SuiteComparison, flagged: tuple[str, ...], *,
                    minimum: int = MIN_BENCHMARKS_FOR_SHIFT) -> tuple[str, ...]:
    """Unflagged benchmarks to measure alongside ``flagged`` (every one for a shift).

    Enough that a round holds at least ``minimum`` benchmarks, at least two controls and
    more controls than flagged benchmarks; the most stable first: the narrowest
    log-interval of the screen.
    """
    candidates = [r for r in screen.results
                  if r.metric == TIME_METRIC and r.name != SUITE_SHIFT_NAME
                  and r.name not in flagged]
    if SUITE_SHIFT_NAME in flagged:
        return tuple(sorted(r.name for r in candidates))
    n_flagged = len(flagged)
    # More controls than targets: if every flagged benchmark really slowed, the round's
    # median factor must still come from an unchanged one, or it absorbs the change.
    wanted = max(2, minimum - n_flagged, n_flagged + 1)

    def width(r: object) -> float:
        c = r.comparison  # type: ignore[attr-defined]
        if not (c.ci_low > 0 and math.isfinite(c.ci_high) and c.ci_high > 0):
            return math.inf
        return math.log(c.ci_high) - math.log(c.ci_low)

    ranked = sorted(candidates, key=lambda r: (width(r), r.name))
    return tuple(sorted(r.name for r in ranked[:wanted]))


def screen_weights(screen: SuiteComparison, flagged: Collection[str]) -> dict[str, float]:
    """How the confirmation splits its level between the flagged benchmarks: ``exp(z)``
    of each one's screen evidence (``z`` the one-sided normal score of its screen p).

    Weights taken from data independent of the confirmation's rounds (the screen measured
    other processes) keep the family-wise level of a weighted Bonferroni split, whatever
    they are (Wasserman & Roeder, 2006, weights from pilot data). Giving the strongest
    evidence the largest share spends the level where a real change most likely is: on
    replayed real noise a +10 % slowdown among 9 benchmarks was confirmed in 92 % of
    commits, against 90.5 % with equal shares, at the same false-alarm rate.
    """
    rows = {r.name: r.comparison for r in screen.results if r.metric == TIME_METRIC}
    out: dict[str, float] = {}
    for name in flagged:
        # A suspect the screen saw faster has no evidence of a slowdown: weight 1 (z 0).
        z = _slowdown_z(rows[name]) if name in rows else 0.0
        out[name] = math.exp(min(max(z, 0.0), _MAX_WEIGHT_Z))
    return out


def screen_ratios(screen: SuiteComparison, flagged: Collection[str]) -> dict[str, float]:
    """The screen's ratio of each flagged benchmark: the change the confirmation's futility
    rule projects (``sequential_ab(expected=...)``). On replayed real noise, projecting
    only the 3 % clearing effect gave up on 10-24 % of real +10 % slowdowns at round 10."""
    out: dict[str, float] = {}
    for r in screen.results:
        if r.metric == TIME_METRIC and r.name in flagged:
            ratio = r.comparison.ratio
            if math.isfinite(ratio) and ratio > 0:
                out[r.name] = ratio
    return out


@dataclass(frozen=True, slots=True)
class ConfirmationPlan:
    """What a confirmation measures and how it splits its level, from the screen alone
    (other processes than the rounds', so none of it can bias the A/B). The product
    (``pipeline.confirm``) and the replay studies (``analysis.replay``) both take it from
    ``plan_confirmation``: one plan, so the studies measure what the product runs."""

    flagged: tuple[str, ...]  # the screen's regressions (``flagged_for_confirmation``)
    suspects: tuple[str, ...]  # unflagged ones it could not clear
    controls: tuple[str, ...]  # measured only to remove each round's suite factor
    weights: Mapping[str, float]  # each target's share of the level (``screen_weights``)
    expected: Mapping[str, float]  # the screen's ratios, for futility (``screen_ratios``)

    @property
    def targets(self) -> tuple[str, ...]:
        """What the A/B decides: the flags, then the suspects."""
        return (*self.flagged, *self.suspects)


def plan_confirmation(screen: SuiteComparison) -> ConfirmationPlan:
    """The confirmation of ``screen``'s flags; nothing flagged gives an empty plan (no A/B)."""
    flagged = flagged_for_confirmation(screen)
    if not flagged:
        return ConfirmationPlan(flagged=(), suspects=(), controls=(), weights={}, expected={})
    suspects = suspects_for_confirmation(screen, flagged)
    targets = (*flagged, *suspects)
    return ConfirmationPlan(flagged=flagged, suspects=suspects,
                            controls=choose_controls(screen, targets),
                            weights=screen_weights(screen, targets),
                            expected=screen_ratios(screen, targets))


def confirm_flagged(rounds: Iterable[Mapping[str, tuple[float, float]]],
                    flagged: Collection[str], *, threshold: float, alpha: float,
                    max_rounds: int = CONFIRM_MAX_ROUNDS,
                    weights: Mapping[str, float] | None = None,
                    narrow: Callable[[tuple[str, ...]], None] | None = None,
                    expected: Mapping[str, float] | None = None,
                    prior: VariancePrior | None = None,
                    ) -> SequentialResult:
    """Confirm the screen's flags on interleaved rounds of the flagged benchmarks and
    their controls: a one-sided sequential test (the question is only "is it slower?"),
    so the level is not spent on improvements nobody asked about. A decided benchmark
    leaves the rounds (``narrow`` tells the source), so a large suite pays for the
    slowest question only on that benchmark. ``prior``: this machine's recorded spread
    per round (``sequential_ab``)."""
    return sequential_ab(rounds, threshold=threshold, alpha=alpha, max_rounds=max_rounds,
                         targets=flagged, alternative="greater", weights=weights,
                         narrow=narrow, expected=expected, prior=prior)
