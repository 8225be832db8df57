"""Sequential interleaved A/B: pull rounds until every target benchmark is decided.

A confirmation run should cost what the question needs: a doubling is obvious after a few
rounds, a 5 % change needs many. Looking at the data after every block of rounds and
stopping when it is clear is only honest if the test stays valid under repeated looks, so:

* **Looks.** After ``min_rounds`` rounds, then every ``block`` rounds, up to ``max_rounds``;
  rounds that run out between two looks get a last one, at the next planned look's level.
* **Alpha spending.** Look ``j`` may spend ``alpha * (g(t_j) - g(t_{j-1}))`` with the
  Pocock-type spending function ``g(t) = ln(1 + (e - 1) t)`` (Lan & DeMets), ``t`` the
  fraction of ``max_rounds`` seen. The looks' levels add up to at most ``alpha``, so by the
  union bound the chance of any false stop is at most ``alpha`` whatever the correlation
  between looks (conservative; exact group-sequential boundaries would need a normal
  model the heavy tails of real timings do not follow). Pocock-type spending keeps most
  of the level for early looks, where large changes are decided.
* **Several targets.** Each target gets a share of ``alpha`` (Bonferroni over the
  targets; equal shares, or ``weights`` fixed before the rounds, e.g. from the screen):
  the family-wise level of a confirmation stays ``alpha`` without a closed-testing
  procedure across looks.
* **The statistic.** Per round, the log-ratio of each benchmark (candidate over base) minus
  the round's suite-wide factor (the median log-ratio of the controls, or of every
  benchmark when there are too few: a process carries its own factor that slows all of
  its benchmarks together, and pairing alone does not cancel it). Each target's mean
  residual is tested with a t statistic on its own spread (n - 1 degrees of freedom),
  beside an exact sign-flip test of its Huber-clipped residuals (``evidence``). The t's
  variance is *not* moderated across benchmarks: real benchmarks differ fourfold in
  spread per round (2-12 % on the recorded example suite), and pooling pulled the
  noisiest ones' variance toward the quiet ones' (on replayed A/A commits such a
  benchmark was "confirmed" at round 5 with p = 1e-6). It is moderated toward the
  *same benchmark's* spread on this machine when a ``prior`` is given
  (``analysis.variance_prior``: recorded by ``perf-pipeline calibrate``), which is what
  lets a doubling be decided at the first look. The suite-wide shift
  (``SUITE_SHIFT_NAME``) is the mean of the factors, tested on their own spread.
* **Two tests, two budgets** (``level_plan``). A target's share is split: ``T_SHARE`` of it
  is spent by the t over every look (the spending function above), the rest by the
  sign-flip test in equal parts over a few late looks only (``sign_flip_looks``: the last
  look, and back from it by a factor ``SIGN_FLIP_LADDER`` down to
  ``SIGN_FLIP_FIRST_ROUNDS``). The t decides large changes early; the sign-flip test
  exists for small changes under heavy tails, which need many rounds anyway, and it can
  never reject below ``2^-n``: spread over every look its level was too thin to use (on
  replayed real pairs, giving it a few late looks raised +5 % found in 20 rounds from 18
  to 28 % and +10 % from 45 to 56-64 %, 9 benchmarks). A target with no sign-flip test
  (the suite-wide shift) gives the t its whole share. Every (test, look) pair has its
  own fixed level and they add up to the share: the union bound keeps it valid.
* **Stopping.** A target is decided when it is significant at its look level (a
  regression or an improvement, as ``judge`` decides with the threshold) or *cleared*:
  the upper bound of its interval at that level lies below ``clear_ratio`` (default: the
  threshold, or ``1 + min_effect`` when that is larger). Clearing is futility stopping: it
  can only lose power, never add false alarms. The run stops when every target is
  decided or at ``max_rounds``; what is undecided then is inconclusive, with an estimate
  of the rounds that would decide it.

The function is pure: ``rounds`` is any iterable (a generator that measures a round per
``next``, or a recorded corpus), pulled only as far as needed.

This module is the stopping loop; the parts it ties together each have their own:
``spending`` (what each look may spend), ``ab_look`` (one look's evidence per target, from
``ab_residuals`` and ``ab_huber``), ``ab_targets`` (the targets and their shares of the level),
``ab_verdict`` (a target's verdict at the end) and ``sequential_result`` (what the run returns).
"""


from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping

import numpy as np

from perf_pipeline.analysis.ab_left_out import LeftOut, left_out_round
from perf_pipeline.analysis.ab_look import (
    CLEAR_LEVEL,
    FUTILITY_POWER,
    MIN_CONTROLS_FOR_FACTOR,
    Look,
    analyse_rounds,
    as_cleared,
    clear_interval,
    evidence,
    factor_possible,
    futile,
    log_ratios,
)
from perf_pipeline.analysis.ab_targets import (
    choose_targets,
    log_expected_ratios,
    target_shares,
)
from perf_pipeline.analysis.ab_verdict import (
    final_comparison,
    lost_comparison,
    own_calls_if_shift_called,
)
from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.own_change import OwnRatio, require_own_change
from perf_pipeline.analysis.sequential_result import SequentialResult
from perf_pipeline.analysis.sign_flip import MAX_SCORES
from perf_pipeline.analysis.spending import (
    SPENDING_GAMMA,
    LookLevels,
    level_plan,
    look_levels,
    sign_flip_looks,
)
from perf_pipeline.analysis.variance_prior import VariancePrior
from perf_pipeline.analysis.verdict import Estimate, judge
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, BenchmarkComparison, SuiteComparison, Verdict

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "DEFAULT_MIN_EFFECT",
    "DEFAULT_MIN_ROUNDS",
    "MAX_ROUNDS",
    "MIN_CONTROLS_FOR_FACTOR",
    "SequentialResult",
    "level_plan",
    "look_levels",
    "sequential_ab",
    "sign_flip_looks",
]

DEFAULT_MIN_ROUNDS = 5
DEFAULT_MAX_ROUNDS = 20
#: The most rounds one A/B may take: the sign-flip test's exact distribution is kept
#: for at most this many rounds (``sign_flip.MAX_SCORES``).
MAX_ROUNDS = MAX_SCORES
#: Smallest slowdown a confirmation tries to rule out before it clears a benchmark.
DEFAULT_MIN_EFFECT = 0.03


def _check_args(threshold: float, alpha: float, min_rounds: int, max_rounds: int, block: int,
                min_effect: float) -> None:
    if not (math.isfinite(threshold) and threshold >= 1.0):
        raise InvalidInputError(f"`threshold` must be a finite number >= 1, got {threshold!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")
    if not 3 <= min_rounds <= max_rounds:  # a look needs 3 rounds for any estimate
        raise InvalidInputError(
            f"`min_rounds` must be at least 3 and at most `max_rounds` ({max_rounds}), "
            f"got {min_rounds!r}")
    if max_rounds > MAX_ROUNDS:
        raise InvalidInputError(f"`max_rounds` must be at most {MAX_ROUNDS}, got {max_rounds!r}")
    if block < 1:
        raise InvalidInputError(f"`block` must be at least 1, got {block!r}")
    if not (math.isfinite(min_effect) and min_effect >= 0):
        raise InvalidInputError(f"`min_effect` must be >= 0, got {min_effect!r}")


def _left_out(pair: object, name: str, index: int) -> LeftOut | None:
    """``ab_left_out.left_out_round`` of a round's (base, candidate); a malformed pair
    is left for ``log_ratios`` to refuse."""
    if isinstance(pair, tuple | list) and len(pair) == 2:
        return left_out_round(name, index, pair[0], pair[1])
    return None


def sequential_ab(
    rounds: Iterable[Mapping[str, tuple[float, float]]],
    *,
    threshold: float = 1.2,
    alpha: float = 0.01,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    min_rounds: int = DEFAULT_MIN_ROUNDS,
    block: int = 1,
    targets: Collection[str] | None = None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    alternative: str = "two-sided",
    weights: Mapping[str, float] | None = None,
    narrow: Callable[[tuple[str, ...]], None] | None = None,
    expected: Mapping[str, float] | None = None,
    prior: VariancePrior | None = None,
) -> SequentialResult:
    """Decide ``targets`` (default: every benchmark of the first round, and the shift).

    Benchmarks of a round that are not targets are controls: they only help estimate
    the round's suite-wide factor. Every round must carry every benchmark of the first;
    a benchmark first measured later (a target round 1 skipped included) is never
    judged, and is listed as missing. A benchmark with a round of 0.0 s on a side
    (``ab_left_out``) is left out of the A/B from its first round on, neither judged
    nor a control, and listed in ``SequentialResult.left_out``.
    ``weights`` (positive, by target; default equal) split the level between the targets
    (weighted Bonferroni): a target with weight ``w`` gets ``alpha * w / sum(weights)``.
    They must not depend on the rounds (e.g. the screen's evidence, from other processes).

    ``expected`` (ratios by target, e.g. the screen's estimates: data the rounds do not
    include) sets the change the futility rule projects for a target when it is larger
    than ``min_effect``: a benchmark the screen saw 10 % slower is not given up on because
    a 3 % change could not be confirmed. Futility only ever loses power, so any such
    values keep the level.

    With at least ``MIN_CONTROLS_FOR_FACTOR`` controls, a decided target leaves the
    rounds: its later values are ignored (a confirmation measures only what is still
    open), and ``narrow``, if given, is told after each look that decided something which
    names the rounds still need, so the source can stop measuring the rest.

    ``prior`` (``analysis.variance_prior``: this machine's recorded spread per round,
    measured as these rounds are) moderates each target's t: its variance is pooled with
    the prior's, which adds the prior's degrees of freedom. It must come from other
    rounds than these; a target it does not name keeps the plain t.
    Raises ``InvalidInputError`` for bad options or values, naming the round and benchmark.
    """
    _check_args(threshold, alpha, min_rounds, max_rounds, block, min_effect)
    if prior is not None and not isinstance(prior, VariancePrior):
        raise InvalidInputError(f"`prior` must be a VariancePrior, not {type(prior).__name__}")
    if alternative not in ("two-sided", "greater"):
        raise InvalidInputError(
            f"`alternative` must be 'two-sided' or 'greater', got {alternative!r}")
    plan = level_plan(alpha=alpha, min_rounds=min_rounds, max_rounds=max_rounds, block=block,
                      gamma=SPENDING_GAMMA)
    look_at = {n: (t, sf) for n, t, sf in plan}

    def levels(n: int, i: int) -> LookLevels:
        t, sf = look_at[n]
        if tested[i] == SUITE_SHIFT_NAME:  # no sign-flip test: the t spends both
            return LookLevels(t=(t + sf) * share[i], sign_flip=0.0)
        return LookLevels(t=t * share[i], sign_flip=sf * share[i])

    rows: list[np.ndarray] = []
    names: tuple[str, ...] = ()
    tested: tuple[str, ...] = ()
    share = np.empty(0)
    decided: dict[str, tuple[int, Estimate, float, float, str]] = {}
    last: tuple[Look, float] | None = None
    log_clear = math.log(max(threshold, 1.0 + min_effect))
    log_expected = log_expected_ratios(expected)
    stopped = "exhausted"
    seen_looks: list[int] = []
    narrows, told, target_rounds = False, 0, 0
    #: Benchmarks a round no longer carried (a flaky skip, a crash on one side): the
    #: round they were lost in, and their last evidence (estimate, p, level) if a look
    #: had seen them. They are inconclusive, never a reason to throw the run away.
    lost: dict[str, int] = {}
    late: set[str] = set()  # benchmarks first measured after round 1
    replanned_out: list[str] = []  # targets lost before the first look, design restarted
    last_seen: dict[str, tuple[Estimate, float, float]] = {}
    #: Benchmarks left out of the A/B (``ab_left_out``): a round of 0.0 s has no ratio.
    left_out: dict[str, LeftOut] = {}
    #: Each open target's own ratio and the factors' at its last look (``own_change``).
    own_seen: dict[str, OwnRatio | None] = {}

    def take_look(n: int, at: int, final: bool) -> None:
        """Look at the first ``n`` rows with the levels of planned look ``at`` (``n``
        itself, or for the rows measured after the last look when the rounds ran out
        between looks with ``block`` > 1, the next planned one: its level is unspent)."""
        nonlocal last
        seen_looks.append(n)
        look = analyse_rounds(np.array(rows[:n]), names, tested, lost, prior)
        last = (look, at)
        for i, target in enumerate(tested):
            if target in decided or target in lost:
                continue
            est, level = evidence(look, i, levels(at, i), alternative)
            p = est.p_value
            last_seen[target] = (est, p, level)
            if look.own:
                own_seen[target] = look.own[i]
            verdict = judge(est, threshold=threshold, alpha=level).verdict
            clear_low, clear_high = clear_interval(look, i, alternative)
            if verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
                decided[target] = (n, est, p, level, "")
            elif clear_high < log_clear and (alternative == "greater"
                                             or clear_low > -log_clear):
                # Two-sided, "unchanged" must rule out a speed-up beyond the bound too: a
                # benchmark 40 % faster was once closed as unchanged at its first look.
                decided[target] = (n, as_cleared(est, look, i, alternative), p, level, (
                    f"cleared after {n} rounds: a slowdown beyond {math.exp(log_clear):.3g}x "
                    f"is ruled out ({1 - CLEAR_LEVEL:.0%} upper bound "
                    f"{math.exp(clear_high):.3f})" if alternative == "greater" else
                    f"cleared after {n} rounds: a change beyond {math.exp(log_clear):.3g}x "
                    f"either way is ruled out ({1 - 2 * CLEAR_LEVEL:.0%} interval "
                    f"[{math.exp(clear_low):.3f}, {math.exp(clear_high):.3f}])"))
            elif not final and futile(
                    look, i, levels(plan[-1][0], i), max_rounds,
                    projected := max(log_clear, log_expected.get(target, 0.0)), alternative):
                change = (f"a slowdown of {math.exp(max(float(look.mean[i]), projected)):.3g}x"
                          if alternative == "greater" else f"a change of "
                          f"{math.exp(max(abs(float(look.mean[i])), projected)):.3g}x either way")
                decided[target] = (n, est, p, level, (
                    f"cleared after {n} rounds: even {change} from here on "
                    f"would most likely not be significant by round {max_rounds} "
                    f"(conditional power < {FUTILITY_POWER:.0%})"))

    iterator = iter(rounds)
    while len(rows) < max_rounds:
        try:
            rnd = next(iterator)
        except StopIteration:
            break
        if not rows:
            if not rnd:
                raise InvalidInputError("round 1 measured no benchmark")
            names = tuple(sorted(rnd))
            chosen = targets
            if targets is not None:
                # A target round 1 did not carry (a flaky skip) is never judged, like a
                # benchmark first measured later: listed as missing, the others go on.
                # Not one target in round 1 is refused (``choose_targets``): a typo, most likely.
                absent = {t for t in targets if t != SUITE_SHIFT_NAME and t not in rnd}
                if absent != set(targets) - {SUITE_SHIFT_NAME}:
                    late.update(absent)
                    chosen = [t for t in targets if t not in absent]
            tested = choose_targets(names, chosen)
            share = target_shares(tested, weights)
            controls = tuple(x for x in names if x not in tested)
            narrows = len(controls) >= MIN_CONTROLS_FOR_FACTOR
        else:
            # Not in round 1, so never judged: listed at the end rather than dropped
            # without a word (a flaky skip of round 1 once hid a doubling).
            late.update(name for name in rnd if name not in names)
        # Decided targets leave the rounds only while controls carry the factor.
        narrows_now = narrows and sum(
            c not in lost for c in controls) >= MIN_CONTROLS_FOR_FACTOR
        dropped = [t for t in decided if t != SUITE_SHIFT_NAME] if narrows_now else []
        for name in names:
            if name in rnd and name not in dropped and name not in lost and (
                    found := _left_out(rnd[name], name, len(rows) + 1)) is not None:
                # Left out from its first round on: not a control of any row, not judged
                # (a decision it had is withdrawn), and no longer measured (``narrow``).
                left_out[name] = found
                lost[name] = len(rows) + 1
                decided.pop(name, None)
                last_seen.pop(name, None)
                own_seen.pop(name, None)
                column = names.index(name)
                for row in rows:
                    row[column] = math.nan
        for name in names:
            if name not in rnd and name not in dropped and name not in lost:
                lost[name] = len(rows) + 1
        gone = set(dropped) | set(lost)
        if names and gone >= set(names):
            stopped = "lost"  # nothing left to measure
            break
        if left_out and all(t in lost for t in tested):
            stopped = "lost"  # nothing left to judge: no more rounds for the controls
            break
        if (not factor_possible(names, controls, gone, lost) and not seen_looks
                and len(controls) < MIN_CONTROLS_FOR_FACTOR):
            # Lost before the first look, from a suite whose factor was the median of
            # every benchmark: nothing was tested yet, so the design starts again on the
            # survivors, a suite too small for a factor (as if only they had been
            # selected). Stopping instead left all five of a suite unjudged for one
            # benchmark's flaky skip.
            survivors = tuple(x for x in names if x not in lost)
            keep_targets = [t for t in tested if t in survivors]
            if keep_targets:
                keep = [names.index(x) for x in survivors]
                rows = [row[keep] for row in rows]
                replanned_out.extend(x for x in names if x in lost and x in tested
                                     and x not in left_out)
                if targets is not None and SUITE_SHIFT_NAME in tested:
                    # Asked for (a confirmation's flag), and no longer testable: listed,
                    # so it is not left to the screen's verdict without a word.
                    replanned_out.append(SUITE_SHIFT_NAME)
                names = survivors
                tested = choose_targets(names, None if targets is None else keep_targets)
                share = target_shares(tested, None if weights is None else
                                {t: w for t, w in weights.items() if t in tested})
                controls = tuple(x for x in names if x not in tested)
        if not factor_possible(names, controls, gone, lost):
            # Every later round would be thrown away by ``analyse_rounds``: stop now rather
            # than measure up to ``max_rounds`` rounds (a confirmation's 100) for nothing.
            stopped = "unjudgeable"
            break
        rows.append(log_ratios(rnd, names, len(rows) + 1, gone))
        target_rounds += len(tested) - len(set(decided) | (set(lost) & set(tested)))
        n = len(rows)
        if n not in look_at:
            continue
        take_look(n, n, final=False)
        if all(t in decided or t in lost for t in tested):
            stopped = "lost" if any(t in lost and t not in decided and t not in left_out
                                    for t in tested) else "decided"
            break
        if narrows_now and narrow is not None and len(decided) + len(lost) > told:
            told = len(decided) + len(lost)
            narrow(tuple(x for x in names if x not in decided and x not in lost))
    else:
        stopped = "max_rounds"
    if last is not None and seen_looks[-1] < len(rows):
        # The rounds ran out between two looks (``block`` > 1: a budget, a loss): the
        # rows since the last look were measured, so they are looked at, with the level
        # of the next planned look (unspent: the union bound holds). They were dropped.
        take_look(len(rows), min(m for m in look_at if m >= len(rows)), final=True)
        if all(t in decided or t in lost for t in tested) and stopped == "exhausted":
            stopped = "decided"
    if not rows and stopped != "lost":
        raise InvalidInputError("`rounds` gave no round at all")
    if last is None and stopped in ("lost", "unjudgeable"):
        # Every benchmark stopped being measured before the first look: nothing to
        # judge, each listed as missing (not a failed run).
        # A shift asked for (a confirmation's flag) is listed too, not left to the
        # screen's verdict without a word; one implied by ``targets=None`` is not.
        gone = (*replanned_out, *(t for t in tested if t not in left_out
                                  and (t != SUITE_SHIFT_NAME or targets is not None)))
        return SequentialResult(
            comparison=SuiteComparison(results=(), correction="sequential-bonferroni",
                                       alpha=alpha, missing=(*gone, *sorted(late))),
            rounds_used=len(rows), target_rounds=target_rounds, looks=(), decided_at={},
            stopped=stopped, left_out=tuple(left_out.values()))
    if last is None:
        raise InvalidInputError(
            f"`rounds` gave {len(rows)} round(s), fewer than `min_rounds` ({min_rounds})")
    look, last_n = last
    results = []
    unmeasured: list[str] = []
    for i, target in enumerate(tested):
        if target in left_out:
            continue  # not judged: listed in ``left_out``
        if target in lost and target not in decided:
            if target not in last_seen:  # lost before any look: listed, not compared
                unmeasured.append(target)
                continue
            est, p, lvl = last_seen[target]
            comp = lost_comparison(est, p, lvl, threshold=threshold, alpha=alpha,
                                   lost_at=lost[target])
        elif target in decided:
            _, est, p, lvl, note = decided[target]
            comp = final_comparison(est, p, lvl, threshold=threshold, alpha=alpha, note=note)
        else:
            est, lvl = evidence(look, i, levels(last_n, i), alternative)
            comp = final_comparison(
                est, est.p_value, lvl, threshold=threshold, alpha=alpha, note=None,
                unjudgeable_after=len(rows) if stopped == "unjudgeable" else None)
        # Relative to a suite factor that moved, its own ratio must move too.
        comp = require_own_change(comp, own_seen.get(target))
        results.append(BenchmarkComparison(name=target, metric=TIME_METRIC, comparison=comp))
    results = own_calls_if_shift_called(results, own_seen, lost, tested, share,
                                         threshold=threshold, alpha=alpha,
                                         alternative=alternative)
    comparison = SuiteComparison(results=tuple(results), correction="sequential-bonferroni",
                                 alpha=alpha,
                                 missing=(*sorted([*replanned_out, *unmeasured]),
                                          *sorted(late)))
    return SequentialResult(comparison=comparison, rounds_used=len(rows),
                            target_rounds=target_rounds,
                            looks=tuple(seen_looks),
                            decided_at={t: v[0] for t, v in decided.items()},
                            stopped=stopped, left_out=tuple(left_out.values()),
                            noise_over_prior=(look.noise_over_prior
                                              if math.isfinite(look.noise_over_prior)
                                              else None))

