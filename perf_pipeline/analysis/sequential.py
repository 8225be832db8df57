"""Sequential interleaved A/B: pull rounds until every target benchmark is decided.

A confirmation run should cost what the question needs: a doubling is obvious after a few
rounds, a 5 % change needs many. Looking at the data after every block of rounds and
stopping when it is clear is only honest if the test stays valid under repeated looks, so:

* **Looks.** After ``min_rounds`` rounds, then every ``block`` rounds, up to ``max_rounds``.
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
  beside an exact sign-flip test of its Huber-clipped residuals (``_evidence``). The t's
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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.analysis.sign_flip import MAX_SCORES, plus_sum_probabilities
from perf_pipeline.analysis.tails import norm_isf, norm_sf, t_isf, t_sf
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
#: One-sided level of the interval that clears a benchmark (futility; no alpha is spent).
CLEAR_LEVEL = 0.05
#: Share of each target's level the t spends (over every look); the sign-flip test
#: spends the rest over ``sign_flip_looks``.
T_SHARE = 0.5
#: The sign-flip test looks at the last look, then back from it by this factor ...
SIGN_FLIP_LADDER = 1.5
#: ... down to this many rounds (it needs 2^-n below its level: 2^-12 = 2.4e-4).
SIGN_FLIP_FIRST_ROUNDS = 12
#: Shape of the alpha-spending function (Hwang-Shih-DeCani): 1 spends early like
#: Pocock's design, -4 saves the level for the last look like O'Brien-Fleming's.
SPENDING_GAMMA = 1.0
#: A target whose conditional power at the last look falls below this is dropped (not
#: confirmed). 2 % and 10 % gave the same power on the replay (+5 % at 5
#: and 50 benchmarks, within 3 points); 10 % kept the cost per benchmark under 15 rounds
#: once the sign-flip test looked late (16.3 -> 13.6 rounds at 50 benchmarks, A/A).
FUTILITY_POWER = 0.1
#: Controls (benchmarks measured but not tested) from which the round's factor is taken
#: without the targets; with fewer, the median over every benchmark.
MIN_CONTROLS_FOR_FACTOR = 2
#: Rounds from which the Huber location's bound may clear a target (its sandwich
#: variance is too rough before).
ROBUST_CLEAR_ROUNDS = 10
#: The largest change the futility rule projects from ``expected`` (a big one is decided
#: in a few rounds anyway).
MAX_EXPECTED_RATIO = 1.5
#: How much smaller than the machine's current variance (median over benchmarks) a
#: variance prior may be before it is scaled up (``_noise_over_prior``).
PRIOR_SLACK = 1.5
#: From this variance ratio on, a result says the machine was noisier than its recording
#: (``SequentialResult.stale_prior_note``). Higher than ``PRIOR_SLACK``: with a correct
#: prior, the median ratio of three benchmarks at a first look (4 degrees of freedom each)
#: passes 1.5 by chance in about 10 % of A/Bs, 2 in about 2.4 % (chi-squared with 4 df,
#: Gaussian rounds: computed, not replayed).
STALE_PRIOR_NOTE = 2.0
#: No futility stop before this many rounds: a spread estimated from fewer, on real
#: heavy-tailed timings, is too often inflated by one disturbed round.
FUTILITY_MIN_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """A sequential A/B comparison and how far it went."""

    comparison: SuiteComparison
    rounds_used: int
    looks: tuple[int, ...]  # rounds after which the data were looked at
    decided_at: Mapping[str, int]  # target -> the round count at which it was decided
    #: "decided", "max_rounds", "exhausted" (the rounds ran out), "lost" (what was
    #: still open was no longer measured on both sides) or "unjudgeable" (too few
    #: benchmarks were still measured to remove a round's suite factor, so no later
    #: round could count).
    stopped: str
    #: Rounds summed over the targets still open in each (what a narrowing run measured).
    target_rounds: int = 0
    #: At the last look, the rounds' variance over the variance prior's (the median over
    #: the benchmarks; None without a prior or a benchmark the prior knows). Above
    #: ``PRIOR_SLACK`` the prior's variances were scaled up to the machine's noise.
    noise_over_prior: float | None = None

    @property
    def undecided(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.comparison.results if r.name not in self.decided_at)

    @property
    def stale_prior_note(self) -> str | None:
        """What a user should know when the machine was noisier than its recording: the
        verdicts still hold (the prior was scaled up), but small changes are harder to
        find than the recording promised, and the recording may be out of date."""
        k = self.noise_over_prior
        if k is None or k < STALE_PRIOR_NOTE:
            return None
        return (f"This machine was noisier in this A/B than in its noise recording: "
                f"{k:.1f}x the recorded variance per round (spread x{math.sqrt(k):.1f}), so "
                f"the variance prior was scaled up to it. The verdicts hold; small changes "
                f"are harder to find than the recording promised. If this persists, record "
                f"again (`perf-pipeline calibrate`).")


def _spent(alpha: float, t: float, gamma: float) -> float:
    """Hwang-Shih-DeCani spending: alpha (1 - e^(-gamma t)) / (1 - e^(-gamma))."""
    if gamma == 0:
        return alpha * t
    return alpha * (1.0 - math.exp(-gamma * t)) / (1.0 - math.exp(-gamma))


def look_levels(*, alpha: float, min_rounds: int, max_rounds: int, block: int,
                gamma: float = SPENDING_GAMMA) -> tuple[tuple[int, float], ...]:
    """(rounds, level spent at that look) for every look; the levels sum to ``alpha``."""
    looks = list(range(min_rounds, max_rounds + 1, block))
    if looks[-1] != max_rounds:
        looks.append(max_rounds)
    spent = 0.0
    out = []
    for n in looks:
        g = _spent(alpha, n / max_rounds, gamma)
        out.append((n, g - spent))
        spent = g
    return tuple(out)


def sign_flip_looks(looks: Sequence[int]) -> tuple[int, ...]:
    """The looks at which the sign-flip test is applied: the last, and the first look at
    or after each of last / 1.5, last / 1.5^2, ... down to ``SIGN_FLIP_FIRST_ROUNDS``."""
    if not looks:
        raise InvalidInputError("`looks` is empty")
    chosen = {looks[-1]}
    x = looks[-1] / SIGN_FLIP_LADDER
    while round(x) >= SIGN_FLIP_FIRST_ROUNDS:
        chosen.add(min(n for n in looks if n >= round(x)))
        x /= SIGN_FLIP_LADDER
    return tuple(sorted(chosen))


@dataclass(frozen=True, slots=True)
class _Levels:
    """What one target may spend at one look: the t's level and the sign-flip test's."""

    t: float
    sign_flip: float

    @property
    def total(self) -> float:
        return self.t + self.sign_flip


def level_plan(*, alpha: float, min_rounds: int, max_rounds: int, block: int,
               gamma: float = SPENDING_GAMMA
               ) -> tuple[tuple[int, float, float], ...]:
    """(rounds, t's level, sign-flip test's level) per look, for a target whose share is
    the whole ``alpha`` and that has a sign-flip test; both columns sum to ``alpha``."""
    looks = look_levels(alpha=alpha, min_rounds=min_rounds, max_rounds=max_rounds,
                        block=block, gamma=gamma)
    ladder = sign_flip_looks([n for n, _ in looks])
    per_look = (1.0 - T_SHARE) * alpha / len(ladder)
    return tuple((n, T_SHARE * level, per_look if n in ladder else 0.0)
                 for n, level in looks)


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


def _log_ratios(rnd: Mapping[str, tuple[float, float]], names: tuple[str, ...], index: int,
                dropped: Collection[str] = ()) -> np.ndarray:
    """Per-name log-ratios of a round; ``dropped`` names (decided targets that left the
    rounds, and benchmarks lost from them) are nan whether the round carries them or not.
    The caller has checked that the round carries every other name."""
    out = np.full(len(names), math.nan)
    for i, name in enumerate(names):
        if name in dropped:
            continue
        try:
            base, cand = (float(v) for v in rnd[name])
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"round {index}, benchmark {name!r}: expected a (base, candidate) pair") from exc
        if not (math.isfinite(base) and math.isfinite(cand) and base > 0 and cand > 0):
            raise InvalidInputError(
                f"round {index}, benchmark {name!r}: values must be finite and > 0, "
                f"got ({base!r}, {cand!r})")
        out[i] = math.log(cand) - math.log(base)
    return out


#: Huber's clipping constant, in robust scale units, of the sign-flip test's scores.
HUBER_C = 1.5
#: Grid of the scores (per scale unit): integer scores make the sign-flip distribution
#: exact by convolution, and rounding a function of |x| keeps the test exact.
SCORE_GRID = 16


@dataclass(frozen=True, slots=True)
class _Look:
    mean: np.ndarray  # per tested name (targets order)
    se: np.ndarray
    df: np.ndarray
    n: int
    rmean: np.ndarray  # Huber location of the residuals (nan for the shift)
    rse: np.ndarray  # its sandwich standard error
    rp_greater: np.ndarray  # exact sign-flip p-values of the Huber scores
    rp_two: np.ndarray
    factor_removed: bool = True  # False: too few benchmarks for a round's suite factor
    #: This look's variance over the variance prior's (``_noise_over_prior``; nan: none).
    noise_over_prior: float = math.nan


def _scale(x: np.ndarray) -> np.ndarray:
    """1.4826 * median |x| of each column (of a 1-D ``x``: one number): a function of |x|
    only, the same under every swap of sides."""
    return 1.4826 * np.median(np.abs(x), axis=0)


def _sign_flip(x: np.ndarray) -> tuple[float, float]:
    """(one-sided "greater", two-sided) exact p-values of the sign-flip test of clipped
    scores ``sum(sign(x) * q)``, ``q = round(SCORE_GRID * min(|x| / s, HUBER_C))``.

    Under the null that each round's two sides are exchangeable, a round's residuals
    change sign together when its sides swap (the round's factor, a median, swaps
    with them), and ``q`` depends on |x| only: the 2^n equally likely sign patterns give
    the statistic's exact distribution, whatever the noise's tails. Clipping at
    ``HUBER_C`` scales keeps one disturbed round from drowning the others, which the
    t statistic's variance cannot avoid on heavy-tailed real timings.
    """
    s = _scale(x)
    if not s > 0:
        return 1.0, 1.0
    q = np.rint(SCORE_GRID * np.minimum(np.abs(x) / s, HUBER_C)).astype(np.int64)
    stat = int(np.sum(np.sign(x).astype(np.int64) * q))
    scores = q[q > 0].tolist()
    total = sum(scores)
    prob = plus_sum_probabilities(scores)  # the statistic is 2 S - total
    greater = float(prob[(stat + total) // 2:].sum())
    a = abs(stat)
    two = float(prob[(a + total) // 2:].sum() + prob[:(total - a) // 2 + 1].sum())
    if stat == 0:
        two = 1.0
    return min(1.0, greater), min(1.0, two)


def _huber(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(location, sandwich standard error) of each column of ``x`` (rounds x targets),
    Huber's psi. All columns at once, each iterated until its own step is negligible:
    one column at a time, the small numpy calls of this loop were 30 % of a replay."""
    n = x.shape[0]
    s = _scale(x)
    mu = np.median(x, axis=0)
    spread = s > 0
    scale = np.where(spread, s, 1.0)
    live = np.flatnonzero(spread)
    for _ in range(50):
        if not live.size:
            break
        step = scale[live] * np.mean(
            np.clip((x[:, live] - mu[live]) / scale[live], -HUBER_C, HUBER_C), axis=0)
        mu[live] += step
        live = live[~(np.abs(step) < 1e-12 * scale[live])]
    u = (x - mu) / scale
    inside = np.maximum(np.mean(np.abs(u) < HUBER_C, axis=0), 1.0 / n)
    psi = np.clip(u, -HUBER_C, HUBER_C)
    se = scale * np.sqrt(np.mean(psi * psi, axis=0)) / inside / math.sqrt(n)
    return mu, np.where(spread, se, 0.0)


def _row_median(d: np.ndarray) -> np.ndarray:
    """Median of each row over its finite values (nan where a row has none)."""
    if np.isfinite(d).all():  # every look of a complete run: the vectorised median
        return np.median(d, axis=1)
    out = np.full(d.shape[0], math.nan)
    for r, row in enumerate(d):
        finite = row[np.isfinite(row)]
        if finite.size:
            out[r] = float(np.median(finite))
    return out


def _factor_possible(names: tuple[str, ...], controls: tuple[str, ...], gone: set[str],
                     lost: Collection[str]) -> bool:
    """Whether a round measuring every name not ``gone`` would have a suite factor
    ``_analyse`` can remove (and so count at all): from two controls still measured, or
    else from enough benchmarks still measured; a suite too small for a factor has none
    to remove. ``gone`` only grows while the controls are lost, so False is final."""
    if sum(c not in lost for c in controls) >= MIN_CONTROLS_FOR_FACTOR:
        return True
    if len(names) < MIN_BENCHMARKS_FOR_SHIFT:
        return True
    return len(names) - len(gone) >= MIN_BENCHMARKS_FOR_SHIFT


def _analyse(d: np.ndarray, names: tuple[str, ...], targets: tuple[str, ...],
             lost: Collection[str] = (), prior: VariancePrior | None = None) -> _Look:
    """Mean residual log-ratio, its standard error and df, per target (``d``: rounds x B).
    Controls ``lost`` from the rounds no longer count as controls. A target with a
    ``prior`` spread has its variance pooled with it (``_moderated``)."""
    n = d.shape[0]
    controls = [j for j, name in enumerate(names) if name not in targets and name not in lost]
    has_controls = len(controls) >= MIN_CONTROLS_FOR_FACTOR
    factor_from: tuple[str, ...] = ()  # what the factor is the median of (for the prior)
    if has_controls:
        # The factor from the controls alone: a target's own change cannot leak into it.
        # nanmedian: a control lost from the rounds (not measured on both sides any
        # more) leaves the others to carry the factor.
        factor = _row_median(d[:, controls])
        factor_from = tuple(names[j] for j in controls)
    elif len(names) >= MIN_BENCHMARKS_FOR_SHIFT:
        factor_from = tuple(name for name in names if name not in lost)
        # A row with too few benchmarks still measured (decided ones that left, lost
        # ones) has no factor to remove: a median of one or two would swallow a target's
        # change, and leaving the factor in would mix a suite-wide shift into the mean.
        factor = np.where(np.isfinite(d).sum(axis=1) >= MIN_BENCHMARKS_FOR_SHIFT,
                          _row_median(d), np.nan)
    else:
        factor = np.zeros(n)
    # Rows without a factor take no part: every target is judged on the same rows.
    usable = np.isfinite(factor)
    if not usable.all():
        d, factor = d[usable], factor[usable]
        n = d.shape[0]
    if n < 3:  # too few rows left to estimate anything: no evidence at this look
        nan = np.full(len(targets), math.nan)
        return _Look(mean=nan, se=nan, df=nan, n=n, rmean=nan, rse=nan,
                     rp_greater=np.ones(len(targets)), rp_two=np.ones(len(targets)))
    resid = d - factor[:, None]
    # Columns of targets that left the rounds (nan) take no part.
    whole = ~np.isnan(resid).any(axis=0)
    noise = (_noise_over_prior(resid, whole, names, factor_from, prior) if prior is not None
             else math.nan)
    # A prior recorded on a quieter day would lend too small a variance: scaled up.
    stale = max(1.0, noise / PRIOR_SLACK) if math.isfinite(noise) else 1.0
    # Per target: mean, se, df, Huber location, its se, sign-flip p (greater, two-sided).
    measured = [names.index(t) for t in targets
                if t != SUITE_SHIFT_NAME and whole[names.index(t)]]
    location, spread = _huber(resid[:, measured])
    huber = {i: (float(location[k]), float(spread[k])) for k, i in enumerate(measured)}
    rows: list[tuple[float, ...]] = []
    for target in targets:
        if target == SUITE_SHIFT_NAME:
            rows.append((float(np.mean(factor)), float(np.std(factor, ddof=1) / math.sqrt(n)),
                         float(n - 1), math.nan, math.nan, 1.0, 1.0))
            continue
        i = names.index(target)
        if not whole[i]:  # decided earlier and dropped: nothing to analyse
            rows.append((math.nan, math.nan, math.nan, math.nan, math.nan, 1.0, 1.0))
            continue
        x = resid[:, i]
        prior_var = prior.log_variance(target, factor_from) if prior is not None else None
        var, df = _moderated(float(np.var(x, ddof=1)), n - 1.0,
                             prior_var * stale if prior_var is not None else None,
                             prior.df if prior is not None else 0.0)
        rows.append((float(np.mean(x)), math.sqrt(var / n), df, *huber[i],
                     *_sign_flip(x)))
    cols = np.array(rows, dtype=float).reshape(len(rows), 7).T
    return _Look(mean=cols[0], se=cols[1], df=cols[2], n=n, rmean=cols[3], rse=cols[4],
                 rp_greater=cols[5], rp_two=cols[6],
                 factor_removed=has_controls or len(names) >= MIN_BENCHMARKS_FOR_SHIFT,
                 noise_over_prior=noise)


def _noise_over_prior(resid: np.ndarray, whole: np.ndarray, names: tuple[str, ...],
                      factor_from: tuple[str, ...], prior: VariancePrior) -> float:
    """This A/B's rounds against the recording, machine-wide: ``k``, the median over
    every benchmark still measured (targets and controls) of its variance here over its
    recorded one (nan if the recording has none of them). The prior's variances are
    scaled up by ``k / PRIOR_SLACK``, never by less than 1. A prior recorded on a
    quieter day (or with fewer samples per process, or other code) would otherwise lend
    too small a variance: replayed with a prior of a quarter of the true variance, plain
    pooling confirmed unchanged code in 2.3 % of A/As. The slack keeps a correct prior
    from being scaled by chance (a variance from 4 rounds scatters: the median of nine
    such ratios exceeds 1 in 28 % of looks, 1.5 in 2 %), and it bounds what a stale prior
    can lend at 1 / ``PRIOR_SLACK`` of the machine's current variance. Scaling up only
    ever loses power, never adds false alarms."""
    ratios = []
    for j, name in enumerate(names):
        recorded = prior.log_variance(name, factor_from) if whole[j] else None
        if recorded is not None:
            ratios.append(float(np.var(resid[:, j], ddof=1)) / recorded)
    return float(np.median(ratios)) if ratios else math.nan


def _moderated(var: float, df: float, prior_var: float | None, prior_df: float
               ) -> tuple[float, float]:
    """(variance, df) of the t: the rounds' own, or pooled with a prior worth ``prior_df``
    degrees of freedom (``analysis.variance_prior``): (d0 s0^2 + df s^2) / (d0 + df)."""
    if prior_var is None or not math.isfinite(var):
        return var, df
    return (prior_df * prior_var + df * var) / (prior_df + df), df + prior_df


def _p_value(mean: float, se: float, df: float, alternative: str) -> float:
    if alternative == "greater":
        if se <= 0:
            return 0.0 if mean > 0 else 1.0
        return t_sf(mean / se, df)
    if se <= 0:
        return 1.0 if mean == 0 else 0.0
    return 2.0 * t_sf(abs(mean) / se, df)


def _futile(look: _Look, i: int, final: _Levels, max_rounds: int, log_effect: float,
            alternative: str) -> bool:
    """Conditional power below ``FUTILITY_POWER``: even if the change went on at least as
    large as ``log_effect`` (or as observed, if larger), the last look would most likely
    not find it. Projected with the test whose spread is tighter (the sign-flip test's
    Huber location when its spread is below the t's), at that test's own level at the
    last look. Non-binding: stopping here can only lose power, never add false alarms."""
    n = look.n
    if n >= max_rounds or n < FUTILITY_MIN_ROUNDS:
        return False
    mean, se, level = float(look.mean[i]), float(look.se[i]), final.t
    if (math.isfinite(float(look.rmean[i])) and final.sign_flip > 0
            and 0 < float(look.rse[i]) < se):
        mean, se, level = float(look.rmean[i]), float(look.rse[i]), final.sign_flip
    if not (se > 0 and level > 0):
        return False
    sd = se * math.sqrt(n)  # per round
    side = level if alternative == "greater" else level / 2.0
    crit = norm_isf(side) * sd * math.sqrt(max_rounds)
    rest = max_rounds - n

    def power(m: float) -> float:  # of finding a slowdown, the mean so far being m
        return norm_sf((crit - m * n - max(m, log_effect) * rest) / (sd * math.sqrt(rest)))

    # Two-sided, a speed-up is projected too (the mirror image): a benchmark well on its
    # way to an improvement is not given up as if only slowdowns counted.
    best = power(mean) if alternative == "greater" else max(power(mean), power(-mean))
    return best < FUTILITY_POWER


def _estimate(look: _Look, i: int, level: float, p: float, n_rounds: int,
              alternative: str, *, robust: bool = False) -> Estimate:
    side = level if alternative == "greater" else level / 2.0
    factor = ("round's suite factor removed" if look.factor_removed
              else "no suite factor removed (too few benchmarks per round)")
    if robust:
        mean, se = float(look.rmean[i]), float(look.rse[i])
        q = norm_isf(side) if se > 0 else 0.0
        method = (f"sequential interleaved A/B: per-round log-ratios, {factor}, exact "
                  "sign-flip test of Huber scores, alpha spending")
    else:
        mean, se, df = float(look.mean[i]), float(look.se[i]), float(look.df[i])
        q = float(t_isf(side, df)) if se > 0 else 0.0
        # The rounds alone give n - 1 degrees of freedom; more came from a variance prior.
        test = ("t test moderated by this machine's recorded spread" if df > n_rounds - 1
                else "t test")
        method = (f"sequential interleaved A/B: per-round log-ratios, {factor}, {test}, "
                  "alpha spending")
    return Estimate(
        log_ratio=mean, log_ci_low=mean - q * se, log_ci_high=mean + q * se, p_value=p,
        n_baseline=n_rounds, n_current=n_rounds, method=method,
        note=f"{n_rounds} rounds", n_units=n_rounds, unit="rounds",
        var_scalable=se * se)  # the estimate's variance at n_rounds, as every Estimate


def _clear_interval(look: _Look, i: int, alternative: str = "greater"
                    ) -> tuple[float, float]:
    """The interval that clears a target (one-sided ``1 - CLEAR_LEVEL`` bounds, so a
    two-sided ``1 - 2 * CLEAR_LEVEL`` interval): the t's, or from ``ROBUST_CLEAR_ROUNDS``
    on the Huber location's if it clears better (a disturbed round widens the t's bound
    for nothing): its upper end lower, for a one-sided confirmation; it narrower, for a
    two-sided A/B, whose choice must not depend on which side is the base. Clearing is
    futility: it can only lose power, never add a false alarm."""
    mean, half = float(look.mean[i]), float(t_isf(CLEAR_LEVEL, float(look.df[i]))) * float(
        look.se[i])
    low, high = mean - half, mean + half
    if (look.n >= ROBUST_CLEAR_ROUNDS and math.isfinite(float(look.rmean[i]))
            and float(look.rse[i]) > 0):
        rmean, rhalf = float(look.rmean[i]), norm_isf(CLEAR_LEVEL) * float(look.rse[i])
        if (rmean + rhalf < high if alternative == "greater" else rhalf < half):
            low, high = rmean - rhalf, rmean + rhalf
    return low, high


def _as_cleared(est: Estimate, look: _Look, i: int, alternative: str) -> Estimate:
    """A cleared target's estimate with the interval that cleared it: shown with the
    look's level instead (spent over looks, split over targets: far wider), "unchanged"
    sat beside an interval reaching past the threshold."""
    low, high = _clear_interval(look, i, alternative)
    ends = "upper end" if alternative == "greater" else "each end"
    return replace(est, log_ratio=(low + high) / 2, log_ci_low=low, log_ci_high=high,
                   note=f"{est.note}; interval: the {1 - 2 * CLEAR_LEVEL:.0%} one that "
                        f"cleared it ({ends} a one-sided {1 - CLEAR_LEVEL:.0%} bound)")


def _evidence(look: _Look, i: int, levels: _Levels, alternative: str) -> tuple[Estimate, float]:
    """The target's estimate and p-value, and the level the p-value is held to.

    The t decides large changes in a few rounds (no sign-flip test can go below 2^-n);
    the exact sign-flip test of Huber scores keeps its power under the heavy tails of real
    timings, where one disturbed round inflates the t's variance. Each has its own level
    at this look (``level_plan``); the p-value returned is the smaller of the two scaled
    to their sum, so it beats the sum exactly when one test beats its own level. While
    ``2^-n`` is above the sign-flip test's level it cannot reject, and the t takes both
    (a fact of n alone, so the choice cannot favour either outcome).
    """
    p_t = _p_value(float(look.mean[i]), float(look.se[i]), float(look.df[i]), alternative)
    total = levels.total
    sf_side = levels.sign_flip if alternative == "greater" else levels.sign_flip / 2.0
    if (not math.isfinite(float(look.rmean[i])) or levels.sign_flip <= 0
            or 0.5 ** look.n > sf_side):
        return _estimate(look, i, total, p_t, look.n, alternative), total
    p_r = float(look.rp_greater[i] if alternative == "greater" else look.rp_two[i])
    scaled_t, scaled_r = p_t * total / levels.t, p_r * total / levels.sign_flip
    robust = scaled_r < scaled_t
    return _estimate(look, i, levels.sign_flip if robust else levels.t,
                     min(1.0, min(scaled_t, scaled_r)), look.n, alternative,
                     robust=robust), total


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
    judged, and is listed as missing.
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

    def levels(n: int, i: int) -> _Levels:
        t, sf = look_at[n]
        if tested[i] == SUITE_SHIFT_NAME:  # no sign-flip test: the t spends both
            return _Levels(t=(t + sf) * share[i], sign_flip=0.0)
        return _Levels(t=t * share[i], sign_flip=sf * share[i])

    rows: list[np.ndarray] = []
    names: tuple[str, ...] = ()
    tested: tuple[str, ...] = ()
    share = np.empty(0)
    decided: dict[str, tuple[int, Estimate, float, float, str]] = {}
    last: tuple[_Look, float] | None = None
    log_clear = math.log(max(threshold, 1.0 + min_effect))
    log_expected = _log_expected(expected)
    stopped = "exhausted"
    seen_looks: list[int] = []
    narrows, told, target_rounds = False, 0, 0
    #: Benchmarks a round no longer carried (a flaky skip, a crash on one side): the
    #: round they were lost in, and their last evidence (estimate, p, level) if a look
    #: had seen them. They are inconclusive, never a reason to throw the run away.
    lost: dict[str, int] = {}
    late: set[str] = set()  # benchmarks first measured after round 1
    last_seen: dict[str, tuple[Estimate, float, float]] = {}
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
                # Not one target in round 1 is refused (``_targets``): a typo, most likely.
                absent = {t for t in targets if t != SUITE_SHIFT_NAME and t not in rnd}
                if absent != set(targets) - {SUITE_SHIFT_NAME}:
                    late.update(absent)
                    chosen = [t for t in targets if t not in absent]
            tested = _targets(names, chosen)
            share = _shares(tested, weights)
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
            if name not in rnd and name not in dropped and name not in lost:
                lost[name] = len(rows) + 1
        gone = set(dropped) | set(lost)
        if names and gone >= set(names):
            stopped = "lost"  # nothing left to measure
            break
        if not _factor_possible(names, controls, gone, lost):
            # Every later round would be thrown away by ``_analyse``: stop now rather
            # than measure up to ``max_rounds`` rounds (a confirmation's 100) for nothing.
            stopped = "unjudgeable"
            break
        rows.append(_log_ratios(rnd, names, len(rows) + 1, gone))
        target_rounds += len(tested) - len(set(decided) | (set(lost) & set(tested)))
        n = len(rows)
        if n not in look_at:
            continue
        seen_looks.append(n)
        look = _analyse(np.array(rows), names, tested, lost, prior)
        last = (look, n)
        for i, target in enumerate(tested):
            if target in decided or target in lost:
                continue
            est, level = _evidence(look, i, levels(n, i), alternative)
            p = est.p_value
            last_seen[target] = (est, p, level)
            verdict = judge(est, threshold=threshold, alpha=level).verdict
            clear_low, clear_high = _clear_interval(look, i, alternative)
            if verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
                decided[target] = (n, est, p, level, "")
            elif clear_high < log_clear and (alternative == "greater"
                                             or clear_low > -log_clear):
                # Two-sided, "unchanged" must rule out a speed-up beyond the bound too: a
                # benchmark 40 % faster was once closed as unchanged at its first look.
                decided[target] = (n, _as_cleared(est, look, i, alternative), p, level, (
                    f"cleared after {n} rounds: a slowdown beyond {math.exp(log_clear):.3g}x "
                    f"is ruled out ({1 - CLEAR_LEVEL:.0%} upper bound "
                    f"{math.exp(clear_high):.3f})" if alternative == "greater" else
                    f"cleared after {n} rounds: a change beyond {math.exp(log_clear):.3g}x "
                    f"either way is ruled out ({1 - 2 * CLEAR_LEVEL:.0%} interval "
                    f"[{math.exp(clear_low):.3f}, {math.exp(clear_high):.3f}])"))
            elif _futile(look, i, levels(plan[-1][0], i), max_rounds,
                         projected := max(log_clear, log_expected.get(target, 0.0)),
                         alternative):
                change = (f"a slowdown of {math.exp(max(float(look.mean[i]), projected)):.3g}x"
                          if alternative == "greater" else f"a change of "
                          f"{math.exp(max(abs(float(look.mean[i])), projected)):.3g}x either way")
                decided[target] = (n, est, p, level, (
                    f"cleared after {n} rounds: even {change} from here on "
                    f"would most likely not be significant by round {max_rounds} "
                    f"(conditional power < {FUTILITY_POWER:.0%})"))
        if all(t in decided or t in lost for t in tested):
            stopped = "lost" if any(t in lost and t not in decided for t in tested) else "decided"
            break
        if narrows_now and narrow is not None and len(decided) + len(lost) > told:
            told = len(decided) + len(lost)
            narrow(tuple(x for x in names if x not in decided and x not in lost))
    else:
        stopped = "max_rounds"
    if not rows and stopped != "lost":
        raise InvalidInputError("`rounds` gave no round at all")
    if last is None and stopped in ("lost", "unjudgeable"):
        # Every benchmark stopped being measured before the first look: nothing to
        # judge, each listed as missing (not a failed run).
        gone = tuple(t for t in tested if t != SUITE_SHIFT_NAME)
        return SequentialResult(
            comparison=SuiteComparison(results=(), correction="sequential-bonferroni",
                                       alpha=alpha, missing=(*gone, *sorted(late))),
            rounds_used=len(rows), target_rounds=target_rounds, looks=(), decided_at={},
            stopped=stopped)
    if last is None:
        raise InvalidInputError(
            f"`rounds` gave {len(rows)} round(s), fewer than `min_rounds` ({min_rounds})")
    look, last_n = last
    results = []
    unmeasured: list[str] = []
    for i, target in enumerate(tested):
        if target in lost and target not in decided:
            if target not in last_seen:  # lost before any look: listed, not compared
                unmeasured.append(target)
                continue
            est, p, lvl = last_seen[target]
            comp = judge(est, threshold=threshold, alpha=alpha,
                         adjusted_p=min(1.0, p * alpha / lvl))
            comp = replace(comp, verdict=Verdict.INCONCLUSIVE, reason=(
                f"not measured on both sides from round {lost[target]} on; undecided at "
                f"its last look; {comp.reason}"))
            results.append(BenchmarkComparison(name=target, metric=TIME_METRIC,
                                               comparison=comp))
            continue
        if target in decided:
            _, est, p, lvl, _ = decided[target]
        else:
            est, lvl = _evidence(look, i, levels(last_n, i), alternative)
            p = est.p_value
        # Scale p so that "adjusted p < alpha" holds exactly when p beat its look level.
        adjusted = min(1.0, p * alpha / lvl)
        comp = judge(est, threshold=threshold, alpha=alpha, adjusted_p=adjusted)
        if stopped == "unjudgeable" and target not in decided:
            comp = replace(comp, verdict=Verdict.INCONCLUSIVE, significant=False, reason=(
                f"stopped after round {len(rows)}: too few benchmarks were still measured "
                f"to remove a round's suite factor; undecided at its last look; "
                f"{comp.reason}"))
        cleared = target in decided and "ruled out" in decided[target][4]
        if cleared or (target in decided
                       and comp.verdict not in (Verdict.REGRESSION, Verdict.IMPROVEMENT)):
            # Ruled out by its interval: unchanged; stopped for futility: not confirmed.
            ruled_out = "ruled out" in decided[target][4]
            comp = replace(comp, verdict=Verdict.UNCHANGED if ruled_out else
                           Verdict.INCONCLUSIVE, reason=f"{decided[target][4]}; {comp.reason}",
                           # a cleared target is decided: no "rounds that would decide"
                           samples_needed=None if ruled_out else comp.samples_needed,
                           significant=False)
        results.append(BenchmarkComparison(name=target, metric=TIME_METRIC, comparison=comp))
    comparison = SuiteComparison(results=tuple(results), correction="sequential-bonferroni",
                                 alpha=alpha, missing=(*unmeasured, *sorted(late)))
    return SequentialResult(comparison=comparison, rounds_used=len(rows),
                            target_rounds=target_rounds,
                            looks=tuple(seen_looks),
                            decided_at={t: v[0] for t, v in decided.items()},
                            stopped=stopped,
                            noise_over_prior=(look.noise_over_prior
                                              if math.isfinite(look.noise_over_prior)
                                              else None))


def _log_expected(expected: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, ratio in (expected or {}).items():
        if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 0):
            raise InvalidInputError(
                f"`expected`: the ratio of {name!r} must be finite and > 0, got {ratio!r}")
        out[name] = math.log(min(ratio, MAX_EXPECTED_RATIO))
    return out


def _shares(tested: tuple[str, ...], weights: Mapping[str, float] | None) -> np.ndarray:
    """Each target's share of the level: its weight over the sum (equal without weights)."""
    if weights is None:
        return np.full(len(tested), 1.0 / len(tested))
    unknown = sorted(set(weights) - set(tested))
    if unknown:
        raise InvalidInputError(f"`weights`: {unknown[0]!r} is not a target")
    w = np.array([weights.get(t, math.nan) for t in tested], dtype=float)
    missing = [t for t, v in zip(tested, w, strict=True) if not math.isfinite(v)]
    if missing or np.any(w <= 0):
        raise InvalidInputError(
            "`weights` must give every target a finite weight > 0"
            + (f" ({missing[0]!r} has none)" if missing else ""))
    return w / w.sum()


def _targets(names: tuple[str, ...], targets: Collection[str] | None) -> tuple[str, ...]:
    if targets is None:
        chosen = list(names)
        if len(names) >= MIN_BENCHMARKS_FOR_SHIFT:
            chosen.append(SUITE_SHIFT_NAME)
        return tuple(chosen)
    unknown = sorted(set(targets) - set(names) - {SUITE_SHIFT_NAME})
    if unknown:
        raise InvalidInputError(f"`targets`: {unknown[0]!r} is not a benchmark of the rounds")
    if not targets:
        raise InvalidInputError("`targets` is empty: nothing to decide")
    if SUITE_SHIFT_NAME in targets and len(names) < MIN_BENCHMARKS_FOR_SHIFT:
        raise InvalidInputError(
            f"the suite-wide shift needs at least {MIN_BENCHMARKS_FOR_SHIFT} benchmarks per "
            f"round, the rounds have {len(names)}")
    return tuple(sorted(targets, key=lambda t: (t == SUITE_SHIFT_NAME, t)))
