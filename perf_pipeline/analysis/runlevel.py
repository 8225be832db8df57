"""The run-level test: one run of a suite against the summaries of k earlier runs.

Model (log scale, benchmark b, run r):  y[b, r] = mu[b] + M[r] + e[b, r]
  * ``M[r]``  — the machine factor: on a shared machine most of the noise is a state of the
    whole run (another process, CPU frequency, thermal state) that slows every benchmark;
  * ``e[b, r]`` — what is left per benchmark and run: its own run-to-run effect plus the
    within-run noise of its summary (the run's median), with variance s_b^2.

Within-run samples say nothing about ``M`` or the run-to-run part of ``e``; a test on them
alone flags unchanged code most of the time (see the simulation tests). So the test is
run-level:
  1. ``M`` of each baseline run and of the current run is estimated by the median over
     benchmarks of their deviation from their baseline means (robust to a few benchmarks
     that really changed); each benchmark is judged by its deviation from the suite-wide
     shift, delta_b = (x_b - mu_b) - S. This removes the dominant common noise.
  2. delta_b is compared with the prediction distribution of a new run (prediction
     interval): se_b = s_b * sqrt(1 + 1/k), Student t.
  3. s_b from k runs has only k - 1 degrees of freedom, which at Holm's per-test level
     (alpha / 50) costs most of the power (t_0.9998 with 9 df is 5.6 vs z = 3.5). The
     variances are therefore moderated across the suite by empirical Bayes (Smyth 2004,
     limma): s~_b^2 = (d0 s0^2 + d s_b^2) / (d0 + d) with d0 + d degrees of freedom, where
     the prior s0^2, d0 are estimated from the spread of the suite's log variances. When
     benchmarks have genuinely different noise levels d0 comes out small and each keeps
     its own variance; when they are alike the suite pools its information.
  4. A uniform slowdown of everything is invisible to step 1, so the suite-wide shift S is
     tested separately against the spread of the baseline runs' machine factors (t with
     k - 1 df, not moderated: there is one such series) and reported as its own
     hypothesis in the same multiple-testing family.
  5. Slow drift (a random walk of each benchmark's level) makes the next run deviate from
     the baseline mean by more than the baseline's own spread shows. The drift rate q is
     estimated suite-wide (the median of the benchmarks' variogram slopes) and the
     prediction variance widened by q (k + 1) / 6, the part of the drift the spread does
     not contain.
  6. With few runs or few benchmarks the suite cannot tell its own noise level (a 3-
     benchmark suite with 2 baseline runs has 3 degrees of freedom in all, and one
     disturbed run then decides everything). For timings the caller therefore adds a weak
     informative prior (``prior_cv``): ``PRIOR_DF`` pseudo-degrees of freedom at a
     run-to-run CV typical of a shared CI runner. It dominates when data are scarce and
     fades as runs accumulate (10 runs x 50 benchmarks give hundreds of df against its
     few). Memory and counts are near-deterministic and get no prior.
Arrays may carry leading batch dimensions (trials in a simulation); NaN marks a missing
value (a benchmark absent from a run).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "DEFAULT_MAX_DF",
    "MIN_BENCHMARKS_FOR_SHIFT",
    "PRIOR_DF",
    "PRIOR_RUN_CV",
    "RunLevelResult",
    "run_level_test",
]

#: Cap on the moderated degrees of freedom. Pooling across a suite can give hundreds of
#: df, which trusts a normal tail at Holm's tiny per-test levels; real run summaries have
#: heavier tails (an outlier run), so we stop at 60 (t quantile 3.8 instead of z = 3.5 at
#: 0.0002): the simulated A/A rate drops from ~1 % to ~0.7 % for ~5 % less power at +5 %.
DEFAULT_MAX_DF = 60.0

#: The weak prior on a benchmark's run-to-run noise (point 6 of the module docstring).
PRIOR_RUN_CV = 0.03
PRIOR_DF = 4.0

#: Fewer benchmarks than this with full history: no machine factor is estimated.
MIN_BENCHMARKS_FOR_SHIFT = 5


@dataclass(frozen=True, slots=True)
class RunLevelResult:
    """Per benchmark (last axis) and per suite (batch axes) results, log scale."""

    delta: np.ndarray  # deviation of the current run from its expectation
    se: np.ndarray  # prediction standard error of delta
    df: np.ndarray  # degrees of freedom of the t reference
    p_value: np.ndarray  # one-sided, in the direction of delta
    n_runs: np.ndarray  # baseline runs per benchmark
    shift: np.ndarray  # suite-wide shift S of the current run (0 when not estimated)
    shift_se: np.ndarray
    shift_df: np.ndarray
    shift_p_value: np.ndarray  # NaN when the shift was not estimated


def _trigamma_inverse(x: np.ndarray) -> np.ndarray:
    """Solve trigamma(y) = x by Newton's method (Smyth's algorithm, as in limma)."""
    x = np.asarray(x, dtype=float)
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = special.polygamma(1, y)
        step = tri * (1.0 - tri / x) / special.polygamma(2, y)
        y = y + step
        if np.all(np.abs(step / y) < 1e-8):
            break
    return y


def _moderate(var: np.ndarray, dof: np.ndarray, *, prior_cv: float = 0.0,
              prior_df: float = PRIOR_DF) -> tuple[np.ndarray, np.ndarray]:
    """Empirical-Bayes moderated variances and their degrees of freedom (last axis)."""
    usable = (dof >= 1) & np.isfinite(var) & (var > 0)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a suite with no usable variance
        half = np.where(usable, dof / 2.0, np.nan)
        e = np.where(usable, np.log(np.where(usable, var, 1.0)), np.nan)
        e = e - special.digamma(half) + np.log(half)
        count = usable.sum(axis=-1)
        e_bar = np.nanmean(np.where(usable, e, np.nan), axis=-1)
        spread = np.nansum((e - e_bar[..., None]) ** 2, axis=-1) / np.maximum(count - 1, 1)
        excess = spread - np.nanmean(special.polygamma(1, half), axis=-1)
    pooled_df = np.where(usable, dof, 0).sum(axis=-1).astype(float)
    d0 = np.full(e_bar.shape, np.inf)
    positive = excess > 0
    if np.any(positive):
        d0[positive] = 2.0 * _trigamma_inverse(excess[positive])
    d0 = np.minimum(d0, pooled_df)
    with np.errstate(invalid="ignore", divide="ignore"):
        s0 = np.exp(e_bar + special.digamma(d0 / 2.0) - np.log(d0 / 2.0))
    enough = count >= 3
    d0 = np.where(enough, d0, 0.0)
    s0 = np.where(enough & np.isfinite(s0), s0, 0.0)
    own = np.where(np.isfinite(var) & (dof >= 1), var, 0.0)
    d = np.where(dof >= 1, dof, 0.0)
    total = d0[..., None] + d
    if prior_cv <= 0:
        prior_df = 0.0
    prior_var = np.log1p(prior_cv) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        moderated = (prior_df * prior_var + d0[..., None] * s0[..., None] + d * own) / (
            prior_df + total)
    return moderated, prior_df + total


def _drift_rate(adjusted: np.ndarray, max_lag: int = 4) -> np.ndarray:
    """Suite-wide random-walk variance per run from the variogram of run summaries.

    For y_r = level + W_r + e_r with W a random walk of step variance q, half the mean
    squared lag-j difference is var(e) + j q / 2: the slope over j gives q (clipped at 0).
    The slope is taken per benchmark and the suite's rate is their median: one benchmark
    with a step or two modes in its history (a bimodal numpy kernel) has a steep
    variogram of its own, and a mean over the suite would hand its drift to every other
    benchmark, widening their intervals until a doubling looked like noise.
    """
    k = adjusted.shape[-1]
    lags = np.arange(1, min(k - 1, max_lag) + 1)
    if lags.size < 2:
        return np.zeros(adjusted.shape[:-2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gamma = np.stack([
            np.nanmean((adjusted[..., j:] - adjusted[..., :-j]) ** 2 / 2.0, axis=-1)
            for j in lags], axis=-1)  # (..., B, lags)
        centred = lags - lags.mean()
        slope = np.nansum(gamma * centred, axis=-1) / np.sum(centred**2)
        slope = np.where(np.all(np.isnan(gamma), axis=-1), np.nan, slope)
        rate = np.nanmedian(slope, axis=-1)
    return np.maximum(0.0, 2.0 * np.nan_to_num(rate))


def run_level_test(history: np.ndarray, current: np.ndarray, *,
                   adjust_shift: bool = True, max_df: float = DEFAULT_MAX_DF,
                   prior_cv: float = 0.0) -> RunLevelResult:
    """Test ``current`` (..., B) log summaries against ``history`` (..., B, k).

    Requires at least 2 baseline runs for a benchmark to get a finite variance; the
    caller handles k < 2 (see ``baseline.compare_to_baseline``).
    """
    hist = np.asarray(history, dtype=float)
    cur = np.asarray(current, dtype=float)
    n_runs = np.sum(np.isfinite(hist), axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
        mu = np.nanmean(hist, axis=-1)
        resid = hist - mu[..., None]
        full = n_runs == hist.shape[-1]
        n_full = full.sum(axis=-1)
        do_shift = adjust_shift & (n_full >= MIN_BENCHMARKS_FOR_SHIFT)
        factor = np.nanmedian(np.where(full[..., None], resid, np.nan), axis=-2)
        factor = np.where(do_shift[..., None], np.nan_to_num(factor), 0.0)
        adjusted = hist - factor[..., None, :]
        mu_adj = np.nanmean(adjusted, axis=-1)
        var = np.nanvar(adjusted, axis=-1, ddof=1)
        raw_dev = cur - mu
        shift = np.where(do_shift, np.nanmedian(raw_dev, axis=-1), 0.0)
        shift = np.nan_to_num(shift)
    delta = cur - mu_adj - (shift + np.where(do_shift, np.mean(factor, axis=-1), 0.0))[..., None]
    dof = (n_runs - 1).astype(float)
    mod_var, mod_df = _moderate(var, dof, prior_cv=prior_cv)
    mod_df = np.minimum(mod_df, max_df)
    k = np.maximum(n_runs, 1)
    drift = _drift_rate(adjusted)
    se = np.sqrt(mod_var * (1.0 + 1.0 / k) + drift[..., None] * (k + 1) / 6.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(delta) / se
        p = stats.t.sf(t, np.where(mod_df > 0, mod_df, np.nan))
    p = np.where(se > 0, p, np.where(delta == 0, 1.0, 0.0))
    p = np.where(np.isfinite(delta) & (mod_df > 0), p, np.nan)
    kk = hist.shape[-1]
    shift_sd = np.std(factor, axis=-1, ddof=1) if kk >= 2 else np.zeros(factor.shape[:-1])
    shift_se = shift_sd * np.sqrt(1.0 + 1.0 / kk)
    shift_dev = shift - np.mean(factor, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift_p = stats.t.sf(np.abs(shift_dev) / shift_se, max(kk - 1, 1))
    shift_p = np.where(shift_se > 0, shift_p, np.where(shift_dev == 0, 1.0, 0.0))
    shift_p = np.where(do_shift & (kk >= 2), shift_p, np.nan)
    return RunLevelResult(
        delta=delta, se=se, df=mod_df, p_value=p, n_runs=n_runs, shift=shift_dev,
        shift_se=shift_se, shift_df=np.full(shift_dev.shape, float(max(kk - 1, 1))),
        shift_p_value=shift_p)
