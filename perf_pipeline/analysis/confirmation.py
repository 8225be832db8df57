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
from collections.abc import Collection, Iterable, Mapping, Sequence

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.analysis.sequential import (
    DEFAULT_MAX_ROUNDS,
    SequentialResult,
    sequential_ab,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, SuiteComparison, Verdict

__all__ = [
    "SCREEN_ALPHA",
    "choose_controls",
    "confirm_flagged",
    "flagged_for_confirmation",
    "round_value",
]

#: Level of the stored-baseline screen when a confirmation follows: the screen only has
#: to be sensitive, the A/B confirmation controls false alarms. Chosen on replayed real
#: noise (README, "How the verdict is decided").
SCREEN_ALPHA = 0.5


def round_value(samples: Sequence[float]) -> float:
    """The one number a process contributes to an A/B round for a benchmark: its fastest
    sample.

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


def flagged_for_confirmation(screen: SuiteComparison) -> tuple[str, ...]:
    """The timing regressions of the screen, the suite-wide shift last if flagged."""
    names = {r.name for r in screen.results
             if r.metric == TIME_METRIC and r.comparison.verdict is Verdict.REGRESSION}
    return tuple(sorted(names, key=lambda n: (n == SUITE_SHIFT_NAME, n)))


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


def confirm_flagged(rounds: Iterable[Mapping[str, tuple[float, float]]],
                    flagged: Collection[str], *, threshold: float, alpha: float,
                    max_rounds: int = DEFAULT_MAX_ROUNDS) -> SequentialResult:
    """Confirm the screen's flags on interleaved rounds of the flagged benchmarks and
    their controls: a one-sided sequential test (the question is only "is it slower?"),
    so the level is not spent on improvements nobody asked about."""
    return sequential_ab(rounds, threshold=threshold, alpha=alpha, max_rounds=max_rounds,
                         targets=flagged, alternative="greater")
