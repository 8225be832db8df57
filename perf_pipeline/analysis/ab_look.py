"""One look at an A/B's rounds: per target, the residual log-ratio after the round's
suite factor, its t and exact sign-flip evidence, the interval that clears it, futility.

``analysis.sequential`` decides when to look and what a look's evidence means for each
target; its docstring gives the design and the replay figures behind it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

import numpy as np

from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.analysis.sign_flip import plus_sum_probabilities
from perf_pipeline.analysis.spending import LookLevels
from perf_pipeline.analysis.tails import norm_isf, norm_sf, t_isf, t_sf
from perf_pipeline.analysis.variance_prior import VariancePrior
from perf_pipeline.analysis.verdict import Estimate
from perf_pipeline.errors import InvalidInputError

__all__ = [
    "CLEAR_LEVEL",
    "FUTILITY_POWER",
    "MIN_CONTROLS_FOR_FACTOR",
    "Look",
    "analyse_rounds",
    "as_cleared",
    "clear_interval",
    "evidence",
    "factor_possible",
    "futile",
    "log_ratios",
]

#: One-sided level of the interval that clears a benchmark (futility; no alpha is spent).
CLEAR_LEVEL = 0.05
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
#: How much smaller than the machine's current variance (median over benchmarks) a
#: variance prior may be before it is scaled up (``_noise_over_prior``).
PRIOR_SLACK = 1.5
#: No futility stop before this many rounds: a spread estimated from fewer, on real
#: heavy-tailed timings, is too often inflated by one disturbed round.
FUTILITY_MIN_ROUNDS = 10



def log_ratios(rnd: Mapping[str, tuple[float, float]], names: tuple[str, ...], index: int,
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
class Look:
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


def factor_possible(names: tuple[str, ...], controls: tuple[str, ...], gone: set[str],
                     lost: Collection[str]) -> bool:
    """Whether a round measuring every name not ``gone`` would have a suite factor
    ``analyse_rounds`` can remove (and so count at all): from two controls still measured, or
    else from enough benchmarks still measured; a suite too small for a factor has none
    to remove. ``gone`` only grows while the controls are lost, so False is final."""
    if sum(c not in lost for c in controls) >= MIN_CONTROLS_FOR_FACTOR:
        return True
    if len(names) < MIN_BENCHMARKS_FOR_SHIFT:
        return True
    return len(names) - len(gone) >= MIN_BENCHMARKS_FOR_SHIFT


def analyse_rounds(d: np.ndarray, names: tuple[str, ...], targets: tuple[str, ...],
             lost: Collection[str] = (), prior: VariancePrior | None = None) -> Look:
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
        return Look(mean=nan, se=nan, df=nan, n=n, rmean=nan, rse=nan,
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
    return Look(mean=cols[0], se=cols[1], df=cols[2], n=n, rmean=cols[3], rse=cols[4],
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


def futile(look: Look, i: int, final: LookLevels, max_rounds: int, log_effect: float,
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


def _estimate(look: Look, i: int, level: float, p: float, n_rounds: int,
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


def clear_interval(look: Look, i: int, alternative: str = "greater"
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


def as_cleared(est: Estimate, look: Look, i: int, alternative: str) -> Estimate:
    """A cleared target's estimate with the interval that cleared it: shown with the
    look's level instead (spent over looks, split over targets: far wider), "unchanged"
    sat beside an interval reaching past the threshold."""
    low, high = clear_interval(look, i, alternative)
    ends = "upper end" if alternative == "greater" else "each end"
    return replace(est, log_ratio=(low + high) / 2, log_ci_low=low, log_ci_high=high,
                   note=f"{est.note}; interval: the {1 - 2 * CLEAR_LEVEL:.0%} one that "
                        f"cleared it ({ends} a one-sided {1 - CLEAR_LEVEL:.0%} bound)")


def evidence(look: Look, i: int, levels: LookLevels, alternative: str) -> tuple[Estimate, float]:
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
