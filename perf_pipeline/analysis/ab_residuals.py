"""One look at an A/B's rounds, in numbers: per target, the residual log-ratio after the
round's suite factor, its t (moderated by a variance prior) and its robust counterpart.

``analyse_rounds`` turns the rounds so far into a ``Look``; what a look's numbers mean for
a target (its evidence, the interval that clears it, futility) is ``ab_look``'s.
``analysis.sequential`` decides when to look; its docstring gives the design and the
replay figures behind it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from perf_pipeline.analysis.ab_huber import huber_location, median_abs_scale, sign_flip_p_values
from perf_pipeline.analysis.baseline import SUITE_SHIFT_NAME
from perf_pipeline.analysis.own_change import OwnRatio, own_ratios
from perf_pipeline.analysis.runlevel import MIN_BENCHMARKS_FOR_SHIFT
from perf_pipeline.analysis.variance_prior import VariancePrior
from perf_pipeline.errors import InvalidInputError

__all__ = [
    "MIN_CONTROLS_FOR_FACTOR",
    "PRIOR_SLACK",
    "Look",
    "analyse_rounds",
    "factor_possible",
    "log_ratios",
]

#: Controls (benchmarks measured but not tested) from which the round's factor is taken
#: without the targets; with fewer, the median over every benchmark.
MIN_CONTROLS_FOR_FACTOR = 2
#: How much smaller than the machine's current variance (median over benchmarks) a
#: variance prior may be before it is scaled up (``_noise_over_prior``).
PRIOR_SLACK = 1.5


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
    #: Per tested name, its own log-ratios (the factor left in) and the factors'
    #: (``own_change``; None for the shift and a target no longer measured).
    own: tuple[OwnRatio | None, ...] = ()


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
    # Each measured target's residuals as a contiguous row: a reduction along a row sums
    # in the same order as one of the column alone, and one call serves every target.
    x_rows = np.ascontiguousarray(resid[:, measured].T)
    scale = median_abs_scale(x_rows.T)
    location, spread = huber_location(resid[:, measured], scale)
    mean, var = np.mean(x_rows, axis=1), np.var(x_rows, ddof=1, axis=1)
    at = {i: k for k, i in enumerate(measured)}
    owns = own_ratios(d[:, measured], factor)
    own = tuple(owns[at[names.index(t)]] if t != SUITE_SHIFT_NAME and whole[names.index(t)]
                else None for t in targets)
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
        k = at[i]
        prior_var = prior.log_variance(target, factor_from) if prior is not None else None
        moderated, df = _moderated(float(var[k]), n - 1.0,
                                   prior_var * stale if prior_var is not None else None,
                                   prior.df if prior is not None else 0.0)
        rows.append((float(mean[k]), math.sqrt(moderated / n), df, float(location[k]),
                     float(spread[k]), *sign_flip_p_values(x_rows[k], float(scale[k]))))
    cols = np.array(rows, dtype=float).reshape(len(rows), 7).T
    return Look(mean=cols[0], se=cols[1], df=cols[2], n=n, rmean=cols[3], rse=cols[4],
                 rp_greater=cols[5], rp_two=cols[6],
                 factor_removed=has_controls or len(names) >= MIN_BENCHMARKS_FOR_SHIFT,
                 noise_over_prior=noise, own=own)


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
