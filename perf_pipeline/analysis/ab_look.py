"""What one look at an A/B's rounds says about each target: its evidence (estimate,
p-value and the level it is held to), the interval that clears it, futility.

The look's numbers come from ``ab_residuals.analyse_rounds`` (its ``Look``); this module
only reads them. ``analysis.sequential`` decides when to look and what to do with a
target's evidence; its docstring gives the design and the replay figures behind it.
``ab_residuals``' names are re-exported here, where they were defined before.
"""

from __future__ import annotations

import math
from dataclasses import replace

from perf_pipeline.analysis.ab_residuals import (
    MIN_CONTROLS_FOR_FACTOR,
    Look,
    analyse_rounds,
    factor_possible,
    log_ratios,
)
from perf_pipeline.analysis.spending import LookLevels
from perf_pipeline.analysis.tails import norm_isf, norm_sf, t_isf, t_sf
from perf_pipeline.analysis.verdict import Estimate

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
#: Rounds from which the Huber location's bound may clear a target (its sandwich
#: variance is too rough before).
ROBUST_CLEAR_ROUNDS = 10
#: No futility stop before this many rounds: a spread estimated from fewer, on real
#: heavy-tailed timings, is too often inflated by one disturbed round.
FUTILITY_MIN_ROUNDS = 10


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
