"""Rank scans of one segment of a history: where is the best split, and is it more than
chance? ``changepoints`` segments a history with them.

Both scans score the standardised Mann–Whitney rank sum of one part of the segment
against the rest, and judge the best score as the maximum of a scan, not as one test.
Ranks bound what any one commit can do: an outlier moves the statistic no more than an
ordinary high value.

* **One split** (the level moves once): the commits before ``k`` against those after.
  Under no change the standardised rank-sum process is a standardised Brownian bridge,
  whose maximum over ``t0 <= t <= 1 - t0`` exceeds ``z`` with probability about
  ``phi(z) (z - 1/z) log(((1 - t0) / t0)^2) + 4 phi(z) / z`` (Siegmund's
  approximation; the discrete scan is a little below it, so this errs on the side of
  fewer alarms).
* **Two splits** (a level that goes and comes back: a slowdown fixed some commits later).
  One split is weak against it, since the commits after any split mix both levels: +30 %
  for 15 commits between 15 and 15 at the old level, with 1 % noise, gives one split no
  more than |z| 2.7, a scan p-value of about 0.1. The commits ``i..j-1`` against the
  others give it 5.4. This is the scan of circular binary segmentation (Olshen et al.,
  2004) on ranks. Under no change its maximum |z| over every pair with ``min_size`` or
  more commits inside and outside exceeds ``b`` with probability about::

      b^3 phi(b) / 2 * sum over lengths d = m / n of
          (1 - d) / (d (1 - d))^2 * nu(b / sqrt(n d (1 - d)))^2 / n

  (Siegmund, 1988: the random field's local rates are ``1 / (2 d (1 - d))`` at each
  end, and ``nu`` corrects for the scan's discrete grid). On independent noise (4,000
  segments each of 20–100 commits, 1,500 of 200, min_size 5) the true rate is 0.5–0.9 of
  the nominal level at 0.05, 0.1–0.35 at 0.01 and 0–0.6 at 0.0025 (a handful of alarms
  per cell): it errs on the side of fewer alarms, as the one-split scan does. Segments
  longer than ``FINE_PAIRS`` commits are scanned on a grid first and the best pair
  refined on the commits around its ends, so a 1,000-commit history costs about what a
  256-commit one does; only a pulse narrower than the grid step can be missed there.

Commits measured on a shared machine are not independent (load comes in waves), so the
caller divides |z| by ``widen``: ``changepoints`` passes the square root of
``series.serial_inflation`` of the segment's residuals around the running median.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

__all__ = ["best_pulse", "best_split", "pulse_scan_p", "split_scan_p"]

#: Segments up to this many commits get every pair of splits scanned; longer ones a grid.
FINE_PAIRS = 256


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def split_scan_p(z: float, t0: float, n_splits: int) -> float:
    """P(max |z| of the one-split scan >= z) under no change: Siegmund's approximation,
    capped by Bonferroni over the splits (better for short segments)."""
    phi = _phi(z)
    span = 2.0 * math.log((1.0 - t0) / t0) if t0 < 0.5 else 0.0
    siegmund = phi * (z - 1.0 / z) * span + 4.0 * phi / z if z > 1.0 else 1.0
    bonferroni = n_splits * float(special.erfc(z / math.sqrt(2.0)))
    return float(min(1.0, max(0.0, siegmund), bonferroni))


def _nu(x: np.ndarray) -> np.ndarray:
    """Siegmund's overshoot correction for a scan on a discrete grid."""
    h = x / 2.0
    cdf = special.ndtr(h)
    return (2.0 / x) * (cdf - 0.5) / (h * cdf + np.exp(-0.5 * h * h) / math.sqrt(2 * math.pi))


def _pulse_lengths(n: int, min_size: int) -> np.ndarray:
    return np.arange(min_size, n - min_size + 1)


@functools.lru_cache(maxsize=64)
def _pulse_terms(n: int, min_size: int) -> tuple[np.ndarray, np.ndarray, float] | None:
    """What ``pulse_scan_p`` needs of a segment's length alone: per pulse length, its
    weight before the overshoot correction and the correction's scale, and the number of
    pairs; None when no pulse fits. Cached: the scans of the history as it was judge
    six windows of one length, and every judgement of a length repeats these."""
    m = _pulse_lengths(n, min_size)
    starts = n - m - 1  # the pulse starts after the first commit and ends before the last
    keep = starts > 0
    m, starts = m[keep], starts[keep]
    if m.size == 0:
        return None
    d = m / n
    rate = 1.0 / (2.0 * d * (1.0 - d))
    base, root = starts / (n * n) * rate ** 2, np.sqrt(2.0 * rate / n)
    base.flags.writeable = root.flags.writeable = False
    return base, root, float(starts.sum())


def pulse_scan_p(b: float, n: int, min_size: int) -> float:
    """P(max |z| of the two-split scan of ``n`` commits >= b) under no change (module
    docstring), capped by Bonferroni over the pairs."""
    terms = _pulse_terms(n, min_size)
    if terms is None or not b > 0:
        return 1.0
    base, root, pairs = terms
    weight = base * _nu(b * root) ** 2
    siegmund = 2.0 * b ** 3 * _phi(b) * float(weight.sum())
    bonferroni = pairs * float(special.erfc(b / math.sqrt(2.0)))
    return float(min(1.0, siegmund, bonferroni))


def _spread(ranks: np.ndarray, ties: float) -> float:
    n = ranks.size
    return (n + 1) - ties / (n * (n - 1))


def best_split(ranks: np.ndarray, ties: float, min_size: int, widen: float = 1.0
               ) -> tuple[int, float] | None:
    """(split, scan p-value) of a segment given its ``midranks``, or None if nothing to
    split; ``widen`` divides |z| (the square root of the segment's serial inflation)."""
    n = ranks.size
    if n < 2 * min_size:
        return None
    spread = _spread(ranks, ties)
    if spread <= 0:
        return None  # all equal
    ks = np.arange(min_size, n - min_size + 1)
    rank_sum = ranks.cumsum()[ks - 1]
    z = (rank_sum - ks * (n + 1) / 2.0) / np.sqrt(ks * (n - ks) * spread / 12.0)
    best = int(np.abs(z).argmax())
    return int(ks[best]), split_scan_p(float(abs(z[best])) / widen, min_size / n, ks.size)


def _best_pair(s: np.ndarray, weight: np.ndarray, starts: np.ndarray, ends: np.ndarray
               ) -> tuple[int, int, float]:
    """The pair (i, j) among ``starts`` x ``ends`` with the largest |z| of the commits
    ``i..j-1`` against the others (``s``: centred cumulative rank sums; ``weight[m]``:
    one over the rank sum's standard deviation for ``m`` commits inside, 0 where ``m``
    is out of bounds, so invalid pairs score 0)."""
    m = ends[None, :] - starts[:, None]
    z = np.abs(s[ends][None, :] - s[starts][:, None]) * weight[np.maximum(m, 0)]
    flat = int(np.argmax(z))
    a, b = divmod(flat, ends.size)
    return int(starts[a]), int(ends[b]), float(z.flat[flat])


def _best_grid_pair(s: np.ndarray, weight: np.ndarray, grid: np.ndarray, step: int
                    ) -> tuple[int, int, float]:
    """``_best_pair(s, weight, grid, grid)`` for the scan's grid: every ``step``-th
    commit from 1, then the last one (``n - 1``) if the steps miss it.

    On the regular part the number of commits inside a pair depends only on how many
    grid steps separate its ends, so the weights form a Toeplitz matrix, read as a
    strided view of one vector instead of gathered for every pair (most of the scan's
    cost on a long history). Every product is the same as ``_best_pair``'s, so is the
    flat argmax."""
    size = grid.size
    regular = size if size < 2 or grid[-1] - grid[-2] == step else size - 1
    # v[regular - 1 + d] is the weight of pairs d grid steps apart (0 for d <= 0)
    v = np.zeros(2 * regular - 1)
    v[regular - 1:] = weight[0:(regular - 1) * step + 1:step]
    # toeplitz[a, b] = v[regular - 1 - a + b], a strided view of v
    toeplitz = np.ndarray((regular, regular), dtype=v.dtype, buffer=v,
                          offset=(regular - 1) * v.itemsize, strides=(-v.itemsize, v.itemsize))
    sg = s[grid]
    z = np.abs(sg[None, :] - sg[:, None])
    z[:regular, :regular] *= toeplitz
    if regular < size:  # the last commit, off the regular steps
        z[:, regular:] *= weight[np.maximum(grid[regular:][None, :] - grid[:, None], 0)]
        z[regular:, :regular] *= weight[np.maximum(grid[:regular][None, :]
                                                   - grid[regular:][:, None], 0)]
    flat = int(np.argmax(z))
    a, b = divmod(flat, size)
    return int(grid[a]), int(grid[b]), float(z.flat[flat])


def best_pulse(ranks: np.ndarray, ties: float, min_size: int, widen: float = 1.0
               ) -> tuple[int, int, float] | None:
    """(start, end, scan p-value) of the best pulse of a segment given its ``midranks``:
    its commits ``start..end-1`` on a level of their own, those before and after on
    another; None if the segment is too short or flat."""
    n = ranks.size
    if n < 2 * min_size + 2:
        return None
    spread = _spread(ranks, ties)
    if spread <= 0:
        return None  # all equal
    s = np.concatenate(([0.0], (ranks - (n + 1) / 2.0).cumsum()))
    m = np.arange(min_size, n - min_size + 1, dtype=float)  # commits inside a pair
    weight = np.zeros(n + 1)
    weight[min_size:n - min_size + 1] = 1.0 / np.sqrt(m * (n - m) * spread / 12.0)
    step = max(1, math.ceil(n / FINE_PAIRS))
    grid = np.arange(1, n, step)
    if grid[-1] != n - 1:
        grid = np.concatenate((grid, [n - 1]))
    i, j, z = _best_grid_pair(s, weight, grid, step)
    if step > 1 and z > 0:
        i, j, z = _best_pair(s, weight,
                             np.arange(max(1, i - step), min(n - 1, i + step) + 1),
                             np.arange(max(1, j - step), min(n - 1, j + step) + 1))
    if z <= 0:
        return None
    return i, j, pulse_scan_p(z / widen, n, min_size)
