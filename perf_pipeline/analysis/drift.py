"""Drift alarms: a slow creep that no single commit makes significant.

A creep of 1 % per commit never trips a per-commit gate, and a change-point scan sees it
as many small steps none of which stands out. What does stand out is the trend over a
window. Over sliding windows of ``window`` commits (a new one every third of a window, and
always the latest ``window`` commits), each a robust trend test:

* **Mann–Kendall**: the sum of the signs of every later-minus-earlier pair of commits,
  standardised (its null variance is ``w (w - 1) (2 w + 5) / 18``). Ranks again, so
  spikes count as one sign each; no assumption on the shape of the noise beyond
  independent commits, and that one is relaxed: the variance is widened by the serial
  correlation of the history around its running median (``series.serial_inflation``).
  The windows are one family: Bonferroni over them, at ``alpha``.
* **Theil–Sen**: the median of the pairwise slopes of the log levels, with its interval
  at ``1 - alpha``, turned into the change over the window (``exp(slope * (w - 1))``).
  A significant window is an alarm when that change is at least ``min_ratio`` either way.

Overlapping alarms that go the same way are merged into one drift. The windows reach
past the creep on both sides, so the merged span is fit as flat, ramp, flat (``_ramp``):
the drift reported starts and ends where the ramp does, and its size (with its interval)
is the change between the two flat levels. Load on a shared machine
comes in waves of a dozen processes that look like a trend inside one window; so where
commits follow a drift, the level it reached must hold: the median of up to a third of a
window after it must differ from the median of the first third of the drift by
``min_ratio`` the same way. Drifts that end at the latest commits are reported as they
are. A step is a trend too;
``unexplained_drifts`` looks for drifts once the change points' steps are taken out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

from perf_pipeline.analysis.changepoints import detect_change_points
from perf_pipeline.analysis.series import (
    commit_log_levels,
    local_residuals,
    median,
    pool_runs_by_commit,
    serial_inflation,
    windows,
)
from perf_pipeline.analysis.verdict import exp_ratio
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Drift, LevelShift, Trend

__all__ = ["detect_drifts", "drifts_of", "unexplained_drifts"]

#: The largest log-ratio whose ratio and its inverse are finite, positive floats.
_MAX_LOG_RATIO = 700.0

#: Product defaults.
WINDOW = 30
MIN_WINDOW = 10
MIN_RATIO = 1.05
ALPHA = 0.01


def _check_options(window: int, min_ratio: float, alpha: float) -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < MIN_WINDOW:
        raise InvalidInputError(f"`window` must be an int >= {MIN_WINDOW}, got {window!r}")
    if not (isinstance(min_ratio, (int, float)) and math.isfinite(min_ratio)
            and min_ratio >= 1.0):
        raise InvalidInputError(f"`min_ratio` must be a finite number >= 1, got {min_ratio!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")


def _theil_sen(y: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Change over ``y`` (log): Theil–Sen estimate and interval at ``1 - alpha``."""
    res = stats.theilslopes(y, alpha=1.0 - alpha)
    span = y.size - 1
    return res.slope * span, res.low_slope * span, res.high_slope * span


def _holds(y: np.ndarray, a: int, b: int, sign: int, floor: float, reach: int) -> bool:
    """The level the drift reached holds after it, where there are commits to tell."""
    after = y[b + 1:b + 1 + reach]
    if after.size < 5:
        return True  # the latest commits: nothing after them yet
    moved = median(after) - median(y[a:a + reach])
    return moved * sign >= floor


#: A span is a step, not a drift, when two levels fit it this much better than a line.
STEP_OVER_LINE = 0.5


def _a_step(y: np.ndarray) -> bool:
    """Whether two levels (the best split, medians) fit ``y`` much better than a line
    (Theil–Sen), by total absolute deviation: a creep fits the line, a step the levels."""
    m = y.size
    if m < 8:
        return False
    x = np.arange(m, dtype=float)
    res = stats.theilslopes(y, x)
    line = float(np.sum(np.abs(y - (res.intercept + res.slope * x))))
    step = min(float(np.sum(np.abs(y[:k] - np.median(y[:k])))
                     + np.sum(np.abs(y[k:] - np.median(y[k:])))) for k in range(3, m - 2))
    return step < STEP_OVER_LINE * line


#: Candidate ramp ends per drift span (a grid over it): fine enough to place a ramp within
#: a few commits, coarse enough to keep the fit a few thousand vectorised candidates.
RAMP_GRID = 24


def _ramp(y: np.ndarray, alpha: float, min_length: int
          ) -> tuple[int, int, float, float, float]:
    """Where a drift's span really moves, and by how much: ``(r0, r1, change, low, high)``.

    The windows that flagged a creep reach past it on both sides, so a line over the
    merged span extrapolated its slope across commits that did not move, and reported a
    ramp of x1.20 as x1.28. Here the span is fit as flat, ramp, flat (least squares over
    a grid of ramp starts ``r0`` and ends ``r1`` at least ``min_length`` apart, either
    flat part possibly empty: a shorter ramp fit noise as a step), and
    the two flat parts kept only where they fit significantly better than a line; and
    the change is the Theil–Sen slope of the values against the fitted ramp shape (0
    before ``r0``, 1 after ``r1``), with its interval at ``1 - alpha``: the difference
    between the two flat levels, robustly; a line over the whole span when that fits.
    """
    m = y.size
    x = np.arange(m, dtype=float)
    grid = np.unique(np.linspace(0, m - 1, min(m, RAMP_GRID)).round().astype(int))
    r0, r1 = np.meshgrid(grid, grid, indexing="ij")
    keep = r1 - r0 >= min(min_length, m - 1)  # shorter is a step: the scan's, not ours
    r0, r1 = r0[keep], r1[keep]
    g = np.clip((x[None, :] - r0[:, None]) / (r1 - r0)[:, None], 0.0, 1.0)
    gc = g - g.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    slope = (gc @ yc) / np.einsum("ij,ij->i", gc, gc)
    resid = yc[None, :] - slope[:, None] * gc
    sse = np.einsum("ij,ij->i", resid, resid)
    best = int(np.argmin(sse))
    line = int(np.flatnonzero((r0 == 0) & (r1 == m - 1))[0])  # the whole span, a line
    if best != line and m > 4:
        # Trimmed only when the two flat parts fit better than the line beyond what the
        # best of so many candidates would on noise (F test, Bonferroni over them): on a
        # noisy creep to the latest commit the best fit otherwise flattened the last few.
        f = (sse[line] - sse[best]) / 2.0 / max(sse[best] / (m - 4), 1e-300)
        if stats.f.sf(f, 2, m - 4) >= alpha / r0.size:
            best = line
    res = stats.theilslopes(y, g[best], alpha=1.0 - alpha)
    return int(r0[best]), int(r1[best]), res.slope, res.low_slope, res.high_slope


def _mann_kendall_sums(y: np.ndarray, w: int, starts: np.ndarray) -> np.ndarray:
    """Mann–Kendall S of the windows of ``w`` commits from each of ``starts``: the signs
    of ``y[j] - y[i]`` over the pairs ``i < j`` of the window.

    The windows overlap by two thirds, so each pair is compared once for the whole
    history, by lag: ``signs[lag - 1, t]`` is the sign of ``y[t + lag] - y[t]`` (by
    comparison: two finite floats differ exactly when their difference is not zero), and
    a window's sum over one lag is a difference of that row's running sums. Integers
    throughout, so S is exactly the sum over each window's own pairs."""
    n = y.size
    lags = np.arange(1, w)
    # row lag - 1 holds y[lag], ..., y[lag + n - 1]; past the last commit it repeats it
    # (those pairs lie beyond every window's sums below)
    later = windows(np.concatenate((y[1:], np.full(w - 1, y[-1]))), n)
    signs = (later > y).view(np.int8) - (later < y).view(np.int8)
    totals = np.zeros((w - 1, n + 1), dtype=np.int64)
    signs.cumsum(axis=1, out=totals[:, 1:])
    # window a, lag l: the pairs (t, t + l) for t = a .. a + w - 1 - l
    s = (totals[lags - 1, starts[:, None] + w - lags]
         - totals[lags - 1, starts[:, None]]).sum(axis=1)
    return s.astype(float)


def detect_drifts(values: Sequence[float] | Sequence[Sequence[float]] | np.ndarray, *,
                  window: int = WINDOW, min_ratio: float = MIN_RATIO,
                  alpha: float = ALPHA) -> tuple[Trend, ...]:
    """Drifts in a history of per-commit values (or replicates per commit), oldest first."""
    _check_options(window, min_ratio, alpha)
    y = commit_log_levels(values)
    n = y.size
    w = min(window, n)
    if w < MIN_WINDOW:
        return ()
    step = max(1, w // 3)
    starts = np.arange(0, n - w + 1, step)
    if starts[-1] != n - w:
        starts = np.concatenate((starts, [n - w]))
    x = windows(y, w)[starts]
    s = _mann_kendall_sums(y, w, starts)
    inflation = serial_inflation(local_residuals(y))
    z = (s - np.sign(s)) / math.sqrt(w * (w - 1) * (2 * w + 5) / 18.0 * inflation)
    p = np.minimum(1.0, special.erfc(np.abs(z) / math.sqrt(2.0)) * starts.size)
    floor = math.log(min_ratio)
    alarms: list[tuple[int, int, int, float]] = []  # start, end (inclusive), sign, p
    for i in np.flatnonzero(p < alpha):
        change, _, _ = _theil_sen(x[i], alpha)
        if abs(change) < floor or change * s[i] <= 0:
            continue
        a, b, sign = int(starts[i]), int(starts[i]) + w - 1, int(np.sign(change))
        if alarms and alarms[-1][2] == sign and a <= alarms[-1][1]:
            last = alarms[-1]
            alarms[-1] = (last[0], b, sign, min(last[3], float(p[i])))
        else:
            alarms.append((a, b, sign, float(p[i])))
    out = []
    for a, b, sign, p_min in alarms:
        if not _holds(y, a, b, sign, floor, w // 3):
            continue
        if n < window and _a_step(y[a:b + 1]):
            # A history shorter than a window: its one window sees a step as a trend,
            # and the change-point scan cannot yet reach it at the edge. Leave it to the
            # scan (it shows once enough commits follow) rather than call it a drift.
            continue
        r0, r1, est, low, high = _ramp(y[a:b + 1], alpha, w // 3)
        # No change between two levels exceeds the values' own span; the Theil-Sen
        # interval against the ramp's 0..1 shape can, and past a float's range it read
        # 0 or inf, which no Trend holds (values spanning e^689 crashed here).
        bound = min(float(np.ptp(y[a:b + 1])), _MAX_LOG_RATIO)
        est, low, high = (min(max(v, -bound), bound) for v in (est, low, high))
        out.append(Trend(start=a + r0, end=a + r1, ratio=exp_ratio(est),
                         ratio_low=exp_ratio(low), ratio_high=exp_ratio(high), p_value=p_min))
    return tuple(out)


def unexplained_drifts(values: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
                       shifts: Sequence[LevelShift], *, window: int = WINDOW,
                       min_ratio: float = MIN_RATIO, alpha: float = ALPHA
                       ) -> tuple[Trend, ...]:
    """The drifts left once the change points' steps are taken out of the history.

    A step is a trend inside any window that holds it, so it would be reported twice; a
    ramp is a run of small steps, and the scan may put a change point in it. Dividing the
    history by each step's Hodges–Lehmann size leaves a step flat and a ramp still a
    ramp, so only the second is (also) a drift.

    A ramp the scan resolved into a staircase (two or more change points the same way,
    none the other way, inside one drift of the history as it is) is a drift too: the
    steps are real, and so is the creep they add up to.
    """
    y = commit_log_levels(values)
    raw = np.exp(y)
    for shift in shifts:
        y[shift.index:] -= math.log(shift.ratio)
    left = detect_drifts(np.exp(y), window=window, min_ratio=min_ratio, alpha=alpha)
    if len(shifts) < 2:
        return left
    stairs = []
    for d in detect_drifts(raw, window=window, min_ratio=min_ratio, alpha=alpha):
        inside = [s for s in shifts if d.start < s.index <= d.end]
        same = sum((s.ratio > 1.0) == (d.ratio > 1.0) for s in inside)
        if same >= 2 and same == len(inside) and not any(
                e.start <= d.end and e.end >= d.start for e in left):
            stairs.append(d)
    return tuple(sorted((*left, *stairs), key=lambda t: t.start))


def drifts_of(name: str, metric: str, run_ids: Sequence[str], values: Sequence[float],
              *, commits: Sequence[str] | None = None) -> tuple[Drift, ...]:
    """The drifts of a run-by-run series that its change points do not explain, its runs
    pooled per commit first (``commits[i]`` is run i's commit, as in
    ``changepoints.change_points_of``), labelled with the runs that name the commits they
    span; runs without a finite positive value are left out."""
    hist = pool_runs_by_commit(name, run_ids, values, commits)
    reps = list(hist.replicates)
    found = unexplained_drifts(reps, detect_change_points(reps))
    return tuple(Drift(name=name, metric=metric, start_run_id=hist.labels[d.start],
                       end_run_id=hist.labels[d.end], ratio=d.ratio,
                       commits=d.end - d.start + 1)
                 for d in found)
