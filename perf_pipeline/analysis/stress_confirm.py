"""Confirming the stress figures the screen flagged, on fresh interleaved pairs of runs.

The screen (``compare_stress``) judges one stress run against one earlier run. Recorded
on this project's example on a shared 2-core machine (``benchmarks/stress_noise.py``),
one run of an unchanged commit against another "regressed" by those rules in most
pairs: the p99 of a one-second step moved by x0.1-x10 between processes, and a flood's
throughput by x0.5-x1.4. The process is the unit of noise, and one process per side
cannot tell a busy spell from a change, however many latencies it holds.

A flagged figure is therefore measured again, with the run as the unit: fresh pairs of
runs of only the tests that hold flagged figures, one at the baseline's commit and one
at the candidate, in an order drawn per pair, so the machine's mood of the moment falls
on both sides alike. Each pair gives the figure's change ``d`` on the scale of its rule
(``pair_change``: log ratio of throughput or p99, load steps of the breaking point,
the exponent's difference, a leak appearing, the error rate's rise; positive = worse).
Under "no change" the two runs of a pair are exchangeable, so ``d`` is symmetric about
0 whatever the machine does, and the exact one-sided signed-rank test of the pairs (a
sign-flip test of their ranks) is valid at ``alpha`` without a model of the noise. A
figure is

* **confirmed** when, after ``pairs`` pairs, the signed-rank p-value is at most its level
  AND at least half of the pairs changed by the rule's own margin (ratio 1.3 of
  throughput, 1.5 of p99, one load step, ...): significant and as large as the screen
  asks. The level is ``alpha`` shared by the flagged figures (Bonferroni): a busy night
  flags several, and the false-confirmation rate that matters is the run's;
* **cleared** as soon as it can no longer be confirmed, even if every remaining pair were
  as bad as can be (futility only: stopping to clear never adds a false confirmation);
* **inconclusive** when the pairs ran out (a side failed, the budget) before either, or
  when no pair measured the figure at all.

So an unchanged commit costs a few pairs (4.5 on average in the replay of recorded
runs), and a confirmed regression the full ``pairs``. With one flagged figure, 10 pairs
and alpha 0.01, confirming needs at least 8 of 10 pairs worse, the better ones the
smallest changes. The replayed false-confirmation and power figures are in the README.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from perf_pipeline.analysis.compare import signed_rank_p
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    FigureTally,
    StressComparison,
    StressConfirmation,
    StressFigure,
    Verdict,
)

__all__ = ["MAX_PAIRS", "STRESS_CONFIRM_PAIRS", "FigureTally", "StressConfirmation",
           "apply_stress_confirmation", "confirm_stress", "flagged_stress", "pair_change",
           "reachable_alpha", "worse_p_value"]

#: Fresh pairs of runs a confirmation measures when a figure keeps looking worse: 2**-10
#: reaches alpha 0.01 shared by up to 10 flagged figures.
STRESS_CONFIRM_PAIRS = 10
#: The largest number of pairs the exact test enumerates (2**n sign vectors).
MAX_PAIRS = 16

Key = tuple[str, str, str]
Pair = tuple[Sequence[StressFigure], Sequence[StressFigure]]


def _steps(value: float) -> float:
    """A breaking point on the load-step scale (steps double; 0: the first step broke)."""
    return math.log2(value) if value > 0 else -1.0


#: The log ratio given to a zero on one side (x e**50: worse than any measured ratio,
#: finite so the tally stays in strict JSON).
LOG_RATIO_CAP = 50.0


def _log_ratio(worse_when_high: float, other: float) -> float:
    """log(worse_when_high / other), a zero (a flood that completed nothing: throughput
    0) at the cap instead of "cannot say": such pairs were dropped, and the futility rule
    then cleared a throughput that fell to 0 in every fresh pair."""
    if worse_when_high <= 0 and other <= 0:
        return 0.0
    if other <= 0:
        return LOG_RATIO_CAP
    if worse_when_high <= 0:
        return -LOG_RATIO_CAP
    return max(-LOG_RATIO_CAP, min(LOG_RATIO_CAP, math.log(worse_when_high / other)))


def pair_change(figure: str, base: float | None, current: float | None, *,
                throughput_ratio: float = 1.3, p99_ratio: float = 1.5,
                exponent_delta: float = 0.25,
                error_rate_delta: float = 0.01) -> tuple[float, float] | None:
    """(``d``, the rule's margin on the same scale): how much worse ``current`` is than
    ``base`` in ``figure``, positive = worse; None when the pair cannot say."""
    if base is None or current is None:
        return None
    if figure == "throughput_ops_s":
        return _log_ratio(base, current), math.log(throughput_ratio)
    if figure == "p99_s":
        return _log_ratio(current, base), math.log(p99_ratio)
    if figure == "breaking_point":
        return _steps(base) - _steps(current), 1.0
    if figure == "exponent":
        return current - base, exponent_delta
    if figure == "leak":
        return current - base, 1.0
    if figure == "error_rate":
        return current - base, error_rate_delta
    return None


def worse_p_value(changes: Sequence[float]) -> float:
    """Exact one-sided signed-rank p-value of ``changes`` (positive = worse) under sign
    symmetry, the sequential A/B's test: ranks, because one pair of a busy spell moves
    a tail by x10, and its sum of raw changes would then decide alone."""
    if not changes:
        return 1.0
    if len(changes) > MAX_PAIRS:
        raise InvalidInputError(f"at most {MAX_PAIRS} pairs, not {len(changes)}")
    return signed_rank_p(np.asarray(changes, dtype=float), greater=True)


def flagged_stress(comparisons: Sequence[StressComparison]) -> tuple[Key, ...]:
    """The figures the screen called regressions: what a confirmation measures again."""
    return tuple((c.test, c.scenario, c.figure) for c in comparisons
                 if c.verdict is Verdict.REGRESSION)


def reachable_alpha(pairs: int) -> float:
    """The smallest p-value ``pairs`` pairs can give: all of them worse."""
    return 0.5 ** pairs


def _needed_by_margin(pairs: int) -> int:
    return (pairs + 1) // 2


class _Figure:
    """The running state of one flagged figure."""

    def __init__(self, key: Key, level: float) -> None:
        self.key, self.level = key, level
        self.changes: list[float] = []
        self.margin: float | None = None
        self.closed = False  # cleared early: takes no more pairs

    @property
    def worse_by_margin(self) -> int:
        return sum(d >= self.margin for d in self.changes) if self.margin is not None else 0

    def passes(self) -> bool:
        """Significant at its level, and worse by the rule's margin in half the pairs."""
        return (bool(self.changes) and worse_p_value(self.changes) <= self.level
                and self.worse_by_margin >= _needed_by_margin(len(self.changes)))

    def can_still_confirm(self, left: int) -> bool:
        """Whether ``left`` more pairs could still confirm it: the futility bound."""
        n = len(self.changes) + left
        if self.worse_by_margin + left < _needed_by_margin(n):
            return False
        # The best the test could still reach: every remaining pair worse than any yet.
        big = 1e6 * max((abs(d) for d in self.changes), default=1.0) + 1.0
        best = [*self.changes, *(big * (1 + i) for i in range(left))]
        return worse_p_value(best) <= self.level

    def verdict(self, left: int) -> Verdict:
        """After the pairs ended with ``left`` of them never measured: the test at the
        pairs it has (their number never depended on their signs), else cleared when
        even ``left`` more could not confirm it, else undecided."""
        if not self.closed and self.passes():
            return Verdict.REGRESSION
        if not self.changes:  # no pair measured it: nothing says it is unchanged
            return Verdict.INCONCLUSIVE
        if self.closed or not self.can_still_confirm(left):
            return Verdict.UNCHANGED
        return Verdict.INCONCLUSIVE


def confirm_stress(flagged: Iterable[Key], pairs: Iterable[Pair], *,
                   max_pairs: int = STRESS_CONFIRM_PAIRS, alpha: float = 0.01,
                   screen: Sequence[StressComparison] = ()) -> StressConfirmation:
    """Pull ``(baseline figures, candidate figures)`` pairs until every flagged figure
    is confirmed or cleared, or ``max_pairs`` were used. Pure: a recorded corpus
    replays through exactly this code."""
    if not 1 <= max_pairs <= MAX_PAIRS:
        raise InvalidInputError(f"max_pairs must be in 1..{MAX_PAIRS}, not {max_pairs!r}")
    if not 0 < alpha < 1:
        raise InvalidInputError(f"`alpha` must be in (0, 1), not {alpha!r}")
    keys = tuple(dict.fromkeys(flagged))
    # Bonferroni over the flagged figures: a nightly run flags several on a busy machine,
    # and the false-confirmation rate that matters is the run's, not a figure's.
    level = alpha / max(len(keys), 1)
    state = {k: _Figure(k, level) for k in keys}
    used = 0
    source = iter(pairs)
    # Too few pairs for the level (the smallest p-value is 2**-max_pairs): nothing could
    # be confirmed, so nothing is measured, and the flags stay undecided, not cleared.
    reachable = reachable_alpha(max_pairs) <= level
    while reachable and used < max_pairs and not all(f.closed for f in state.values()):
        try:
            base, current = next(source)
        except StopIteration:
            break
        used += 1
        base_by_key = {f.key: f for f in base}
        for figure in current:
            s = state.get(figure.key)
            if s is None or s.closed or figure.key not in base_by_key:
                continue
            measured = pair_change(figure.figure, base_by_key[figure.key].value, figure.value)
            if measured is not None:
                s.changes.append(measured[0])
                s.margin = measured[1]
        for s in state.values():  # futility: clear what can no longer be confirmed
            s.closed = s.closed or not s.can_still_confirm(max_pairs - used)
    by_key = {(c.test, c.scenario, c.figure): c for c in screen}
    tallies = tuple(FigureTally(
        key=k, changes=tuple(s.changes), margin=s.margin,
        p_value=worse_p_value(s.changes) if s.changes else None,
        worse_by_margin=s.worse_by_margin,
        verdict=s.verdict(max_pairs - used) if reachable else Verdict.INCONCLUSIVE,
        screen=by_key.get(k))
        for k, s in state.items())
    return StressConfirmation(tallies=tallies, pairs_used=used, pairs=max_pairs,
                              alpha=alpha, level=level)


def apply_stress_confirmation(comparisons: Sequence[StressComparison],
                              confirmation: StressConfirmation
                              ) -> tuple[StressComparison, ...]:
    """The screen's comparisons with each confirmed figure's final verdict: the
    confirmation decides, and the detail keeps both stages."""
    out = []
    for c in comparisons:
        tally = confirmation.tally((c.test, c.scenario, c.figure))
        if tally is None:
            out.append(c)
            continue
        out.append(replace(c, verdict=tally.verdict,
                           detail=f"{tally.summary} (screen: {c.detail})"))
    return tuple(out)
