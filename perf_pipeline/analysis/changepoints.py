"""Change points in a benchmark's history: where did the level move, and by how much?

The history is one log level per commit (``series.commit_log_levels``: replicates of a
commit reduced to their median). Binary segmentation: in a segment, find the best split,
keep it if it passes three checks, then search both halves again.

1. **Scan** (``rank_scan``). Every split leaving at least ``min_size`` commits on each
   side is scored by the standardised Mann–Whitney rank sum of the commits before against
   those after, from one cumulative sum of ranks. The best split's |z| is judged as the
   maximum of a scan (Siegmund's approximation for a standardised Brownian bridge), far
   less conservative than Bonferroni over every split, whose neighbouring tests are nearly
   the same test. When no single split passes, the segment is scanned again for a
   **pulse**, a level that goes and comes back (a slowdown fixed some commits later): the
   commits between two splits against the others, judged as the maximum of that
   two-dimensional scan. One split is weak there because every split mixes both levels on
   one side; before the pulse scan a +30 % slowdown lasting 15 commits, fixed, with 15
   commits either side and 1 % noise, left no change point in 50 of 50 histories. Both
   scans widen |z| by the serial correlation of the history around its running median (on
   a shared machine load comes in waves), less one standard error of that correlation (on
   30 commits a chance correlation of 0.2 would otherwise hide a clean step). The split
   scan's level is ``alpha`` (0.0025), the pulse scan's a fifth of it
   (``PULSE_ALPHA_SHARE``: load waves look like pulses). A pulse's two ends are then
   refined and judged as two change points, each between the segment's end and the
   pulse's other end. When neither passes on the history's last segment, it is
   scanned again as it was a few commits ago (``_as_it_was``): a slowdown landed again
   after its revert makes four levels, which mix on one side of every split and pulse
   of the whole segment, but not of the history before the re-land.
2. **Refinement.** The argmax of the scan is a good but loose estimate of where the level
   moved. Around it (± ``min_size`` commits), the split is moved to where the two local
   levels (medians of up to ``LEVEL_REACH * min_size`` commits each side, within the
   segment) fit best: each commit costs its squared distance to its side's level in
   units of the history's own robust scale (``robust_scale``: the median absolute
   residual around the running median), capped at ``REFINE_CAP`` scales. The cap is
   what makes it robust: a spike costs the same on either side, so it cannot pull the
   split, and commits further from both levels than the levels are from each other never
   start a level. Levels and split are updated in turn (``REFINE_ROUNDS``). Once every
   change point is known, each is placed again the same way between its final
   neighbours (a later split may have cut the segment it was found in). On replayed real
   noise this placement is close to an oracle that knows both true levels and the
   noise density (``benchmarks/changepoints.py --per-benchmark``).
3. **Persistence and size.** The new level must hold without its first commit: the
   commits before against those after, leaving out the first one after, must still differ
   at ``alpha`` (so no single commit makes a change point). Its size is the
   Hodges–Lehmann shift between the commits before and after (up to ``4 * min_size`` on
   each side, the local levels), with its Mann–Whitney confidence interval at
   ``SIZE_CONFIDENCE`` (90 %); the change is kept when the whole interval lies beyond
   ``min_ratio`` (1 %, either way). A small step that is certain counts; a point
   estimate that happens to cross a hard floor does not. (A 99 % interval beyond 2 %, the
   earlier rule, threw away about one +10 % step in twelve that the scan had found, with
   no fewer false alarms.)

Replicates of a commit are one point of the history (``series.commit_log_levels``: the
median of their logs); ``change_points_of`` pools a run-by-run series per commit first.

Slow drifts have no single split; ``analysis.drift.detect_drifts`` watches them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

from perf_pipeline.analysis.rank_scan import best_pulse, best_split
from perf_pipeline.analysis.series import (
    SliceOrder,
    commit_log_levels,
    local_residuals,
    median,
    midranks,
    pool_runs_by_commit,
    row_medians,
    serial_inflation,
    windows,
)
from perf_pipeline.analysis.verdict import exp_ratio
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import ChangePoint, LevelShift

__all__ = ["change_points_of", "detect_change_points", "drift_ratio", "hodges_lehmann"]

#: Product defaults (reports, the pipeline, and the studies all use these).
MIN_SIZE = 5
MIN_RATIO = 1.01
ALPHA = 0.0025
#: Confidence of a step's Hodges–Lehmann interval, which must lie beyond ``min_ratio``.
SIZE_CONFIDENCE = 0.90
#: Local levels are medians of up to ``LEVEL_REACH * min_size`` commits each side.
LEVEL_REACH = 10
#: A commit's refinement cost is capped at this many robust scales (squared).
REFINE_CAP = 3.0
REFINE_ROUNDS = 3
#: The pulse scan runs at this share of ``alpha``. Load waves on a shared machine look
#: like pulses: at ``alpha`` itself flat factor-free real-noise histories alarmed in 4.3 %
#: instead of 3.3 % (300 histories, seed 7); at a fifth in 3.3 %, and +30 % slowdowns
#: fixed 15 commits later are found nearly as often (0.97 against 0.99).
PULSE_ALPHA_SHARE = 0.2
#: The last segment is scanned again as it was up to this many ``min_size`` commits ago,
#: over its last ``AS_IT_WAS_LENGTH * min_size`` commits then (``_as_it_was``).
AS_IT_WAS_REACH = 6
AS_IT_WAS_LENGTH = 20
#: Those scans run at this share of each scan's level: Bonferroni over the six looks. At
#: the full level, flat histories of replayed real noise (1,200, held-out seeds 500-800)
#: got a change point 12 -> 17 times factor-free and 52 -> 77 times raw at a third; at a
#: sixth 15 and 69 (any alarm, drifts too: 40 -> 40 and 226 -> 234), and a re-landed
#: x1.25 at 2 % noise is still placed exactly in 37 and 40 of 40 histories 10 and 20
#: commits in (5 and 20 before).
AS_IT_WAS_ALPHA_SHARE = 1 / 6
_TINY = 1e-12


def _check_options(min_size: int, min_ratio: float, alpha: float) -> None:
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 2:
        raise InvalidInputError(f"`min_size` must be an int >= 2, got {min_size!r}")
    if not (isinstance(min_ratio, (int, float)) and math.isfinite(min_ratio)
            and min_ratio >= 1.0):
        raise InvalidInputError(f"`min_ratio` must be a finite number >= 1, got {min_ratio!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")


def robust_scale(y: np.ndarray, res: np.ndarray | None = None) -> float:
    """The history's own noise scale: 1.4826 x the median absolute residual around its
    running median (``series.local_residuals``, or ``res`` when given), so steps, ramps
    and spikes barely move it. Never zero (a constant history gets a tiny scale)."""
    if y.size < 3:
        return _TINY
    if res is None:
        res = local_residuals(y)
    scale = 1.4826 * median(np.abs(res - median(res)))
    if not scale > _TINY:
        scale = float(np.std(y))
    return max(scale, _TINY)


def _split_costs(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Per candidate split ``j``: the ``old`` costs of the commits before it plus the
    ``new`` costs from it on (running sums from either end)."""
    before = np.zeros(old.size)
    old[:-1].cumsum(out=before[1:])
    return before + new[::-1].cumsum()[::-1]


def _refine(y: np.ndarray, lo: int, k: int, hi: int, min_size: int, scale: float) -> int:
    """The split near ``k`` that best separates the two local levels (module docstring).

    Each commit costs its squared distance, in units of ``scale``, to the level of its
    side, capped at ``REFINE_CAP ** 2`` (a spike costs the same on either side, so it
    cannot pull the split); the split goes where the total is least, among the splits
    whose first commit is not a spike (off both levels and off the commits after it).
    Levels and split are updated in turn until the
    split stays put.
    """
    reach = LEVEL_REACH * min_size
    cap = REFINE_CAP * REFINE_CAP
    first, last = max(lo + min_size, k - min_size), min(hi - min_size, k + min_size)
    if first > last:
        return k
    cands = np.arange(first, last + 1)
    # the level of the commits that follow each candidate (up to min_size of them)
    after = y[first + 1:min(hi, last + 1 + min_size)]
    follow = np.empty(cands.size)
    full = min(cands.size, max(0, after.size - min_size + 1))
    if full:
        follow[:full] = row_medians(windows(after, min_size)[:full])
    for i in range(full, cands.size):  # the last ones, cut short by the segment's end
        follow[i] = median(y[cands[i] + 1:min(hi, cands[i] + 1 + min_size)])
    for _ in range(REFINE_ROUNDS):
        a = median(y[max(lo, k - reach):k])
        b = median(y[k:min(hi, k + reach)])
        gap = abs(b - a)
        if gap == 0.0:
            return k
        win = y[first:last + 1]
        old = np.minimum(((win - a) / scale) ** 2, cap)
        new = np.minimum(((win - b) / scale) ** 2, cap)
        # cost(j) = old-level cost of commits before j + new-level cost from j on
        cost = _split_costs(old, new)
        # A spike is one commit off both levels and off the commits that follow it; a
        # level taken over a pulse and what follows it lies between the two, and then
        # every commit of the pulse is off both levels without being a spike.
        counts = (((win >= min(a, b) - gap) & (win <= max(a, b) + gap))
                  | (np.abs(win - follow) <= gap / 2.0))  # not a spike
        # Ties of the capped cost (a commit beyond the cap from both levels costs the
        # same on either side: on a quiet history, a last old commit a few scales off
        # its level) go to the split whose commits lie nearer their own level, uncapped;
        # the stable order alone put such a commit on the new level in 48-84 % of cases.
        raw_old, raw_new = np.abs(win - a), np.abs(win - b)
        tie_break = _split_costs(raw_old, raw_new)
        order = np.lexsort((tie_break, (cost / cap).round(9)))
        starts = order[counts[order]]
        pick = int(cands[starts[0] if starts.size else order[0]])
        if pick == k:
            break
        k = pick
    return k


def hodges_lehmann(before: np.ndarray, after: np.ndarray, confidence: float
                   ) -> tuple[float, float, float]:
    """Shift after - before: the median of all pairwise differences, with the
    Mann–Whitney (Lehmann) confidence interval at ``confidence``."""
    d = np.subtract.outer(after, before).ravel()
    d.sort()
    n1, n2 = before.size, after.size
    z = float(special.ndtri(0.5 + confidence / 2.0))
    c = math.floor(n1 * n2 / 2.0 - z * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12.0))
    c = min(max(c, 0), d.size // 2)
    return median(d), float(d[c]), float(d[d.size - 1 - c])


def _persists(y: np.ndarray, lo: int, k: int, hi: int, alpha: float) -> bool:
    """The new level holds without its first commit: Mann–Whitney of the commits before
    against those after the first, two-sided, normal approximation with tie and
    continuity corrections."""
    before, after = y[lo:k], y[k + 1:hi]
    n1, n2 = after.size, before.size
    if n1 < 1 or n2 < 1:
        return False
    ranks, ties = midranks(np.concatenate((after, before)))
    n = n1 + n2
    var = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return False  # all equal
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    z = max(abs(u - n1 * n2 / 2.0) - 0.5, 0.0) / math.sqrt(var)
    return float(special.erfc(z / math.sqrt(2.0))) < alpha


def _shift(y: np.ndarray, lo: int, k: int, hi: int, min_size: int, p: float
           ) -> LevelShift:
    reach = 4 * min_size
    est, low, high = hodges_lehmann(y[max(lo, k - reach):k], y[k:min(hi, k + reach)],
                                    SIZE_CONFIDENCE)
    return LevelShift(index=k, ratio=exp_ratio(est), ratio_low=exp_ratio(low),
                      ratio_high=exp_ratio(high), p_value=p)


def _holds(y: np.ndarray, lo: int, k: int, hi: int, min_size: int, alpha: float,
           floor: float) -> bool:
    """A change point at ``k`` between ``lo`` and ``hi`` is reported: its new level
    persists, and its size's interval lies beyond ``min_ratio`` (``floor``, in logs)."""
    if not _persists(y, lo, k, hi, alpha):
        return False
    shift = _shift(y, lo, k, hi, min_size, 0.0)
    return not (math.log(shift.ratio_low) < floor and math.log(shift.ratio_high) > -floor)


def _pulse(y: np.ndarray, lo: int, hi: int, scan: tuple[np.ndarray, float, float],
           min_size: int, alpha: float, floor: float, scale: float, *, share: float = 1.0
           ) -> tuple[dict[int, float], int | None]:
    """The ends of the segment's best pulse that hold as change points (index: scan
    p-value); none when its scan does not pass ``alpha * PULSE_ALPHA_SHARE``. Each end is
    refined and judged between the segment's end and the pulse's other end, as a single
    split would be.

    Second: the pulse's end when it lies among the history's last ``2 * min_size``
    commits (a fix that has just landed, maybe too few commits to judge it yet), or
    None. It is not reported, but its neighbour is judged up to it: judged across the
    fixed commits too, a slowdown reported for 20 commits vanished for a few once its
    fix arrived (and its rise was announced as a drift from the history's start)."""
    ranks, ties, widen = scan
    pulse = best_pulse(ranks, ties, min_size, widen)
    if pulse is None or pulse[2] >= alpha * PULSE_ALPHA_SHARE * share:
        return {}, None
    start = _refine(y, lo, lo + pulse[0], lo + pulse[1], min_size, scale)
    end = _refine(y, start, lo + pulse[1], hi, min_size, scale)
    ends = {k: pulse[2] for k, a, b in ((start, lo, end), (end, start, hi))
            if a < k < b and _holds(y, a, k, b, min_size, alpha, floor)}
    recent = lo + pulse[1]
    if start in ends and hi == y.size and hi - recent < 2 * min_size and end not in ends:
        return ends, recent
    return ends, None


def _as_it_was(y: np.ndarray, lo: int, min_size: int, alpha: float, floor: float,
               scale: float, widen: float) -> dict[int, float]:
    """Change points of the last segment as the history showed them some commits ago
    (index: scan p-value).

    A slowdown, its revert and the slowdown again make four levels, and every split and
    every pulse of the whole segment mixes two of them on one side: the first slowdown
    and its revert, reported until the slowdown came back, vanished, and the re-land
    itself was found 8–37 commits late (x1.25 at 2 % noise). The history as it was
    before the re-land holds only the first three levels. So the segment's last
    ``AS_IT_WAS_LENGTH * min_size`` commits are scanned as they were ``d`` commits ago,
    ``d`` = ``min_size``, ``2 * min_size``, … up to ``AS_IT_WAS_REACH * min_size``, with
    the segment's serial widening. Each is the end of a history the product judged, or
    would have judged, then; the six looks share each scan's level
    (``AS_IT_WAS_ALPHA_SHARE``, Bonferroni). The nearest in
    the past that finds a split or pulse that holds wins; its change points are judged
    again between their final neighbours like any other."""
    hi = y.size
    level = alpha * AS_IT_WAS_ALPHA_SHARE
    for d in range(min_size, AS_IT_WAS_REACH * min_size + 1, min_size):
        a, b = max(lo, hi - d - AS_IT_WAS_LENGTH * min_size), hi - d
        if b - a < 3 * min_size:
            break
        ranks, ties = midranks(y[a:b])
        split = best_split(ranks, ties, min_size, widen)
        if split is not None and split[1] < level:
            k = _refine(y, a, a + split[0], b, min_size, scale)
            if _holds(y, a, k, b, min_size, alpha, floor):
                return {k: split[1]}
        ends, _ = _pulse(y[:b], a, b, (ranks, ties, widen), min_size, alpha, floor, scale,
                         share=AS_IT_WAS_ALPHA_SHARE)
        if ends:
            return ends
    return {}


def detect_change_points(values: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
                         *, min_size: int = MIN_SIZE, min_ratio: float = MIN_RATIO,
                         alpha: float = ALPHA) -> tuple[LevelShift, ...]:
    """Where a new level starts (``values[shift.index]`` is its first commit), oldest first.

    ``values`` holds one value per commit, oldest first, or a sequence of replicates per
    commit (e.g. the medians of each process of the commit's runs).
    """
    _check_options(min_size, min_ratio, alpha)
    y = commit_log_levels(values)
    res = local_residuals(y)
    scale = robust_scale(y, res)
    floor = math.log(min_ratio)
    found: dict[int, float] = {}
    unjudged: int | None = None  # a pulse's end among the last commits (``_pulse``)
    stack = [(0, y.size)]
    # one sort of the levels and one of the residuals rank every long segment
    y_order, res_order = SliceOrder(y), SliceOrder(res)
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2 * min_size:
            continue
        # ranks and the serial widening of the segment, shared by both scans
        ranks, ties = midranks(y[lo:hi], y_order(lo, hi))
        widen = math.sqrt(serial_inflation(res[lo:hi], discount=1.0,
                                           order=res_order(lo, hi)))
        split = best_split(ranks, ties, min_size, widen)
        if split is not None and split[1] < alpha:
            k = _refine(y, lo, lo + split[0], hi, min_size, scale)
            if _holds(y, lo, k, hi, min_size, alpha, floor):
                found[k] = split[1]
                stack += [(lo, k), (k, hi)]
                continue
        ends, recent = _pulse(y, lo, hi, (ranks, ties, widen), min_size, alpha, floor,
                              scale)
        for k in ends:
            found[k] = ends[k]
        if recent is not None:
            unjudged = recent
        if not ends and hi == y.size:
            ends = _as_it_was(y, lo, min_size, alpha, floor, scale, widen)
            found.update(ends)
        cuts = [lo, *sorted(ends), hi]
        stack += list(itertools.pairwise(cuts)) if ends else []
    # Each change point placed again between its final neighbours (a later split may have
    # cut the segment it was found in, and its levels are now those of its neighbours),
    # then judged again there: one first found between two real steps can end on a flat
    # stretch, and was once reported as a step of 1.009 whose interval held 1. A point
    # that no longer holds is dropped and its neighbours are placed again, until all hold.
    # A pulse's end too recent to judge bounds its neighbour without being reported.
    points: list[tuple[int, float | None]] = sorted(
        [*found.items(), *([(unjudged, None)] if unjudged not in (None, *found) else [])])
    while True:
        bounds = [0, *(k for k, _ in points), y.size]
        for j in range(1, len(bounds) - 1):
            if points[j - 1][1] is None:
                continue
            k = _refine(y, bounds[j - 1], bounds[j], bounds[j + 1], min_size, scale)
            bounds[j] = k if k not in bounds else bounds[j]
        placed = [(k, p) for k, (_, p) in zip(bounds[1:-1], points, strict=True)]
        points = [(k, p) for j, (k, p) in enumerate(placed, start=1)
                  if p is None
                  or _holds(y, bounds[j - 1], k, bounds[j + 1], min_size, alpha, floor)]
        if len(points) == len(placed):
            break
    return tuple(_shift(y, bounds[j - 1], k, bounds[j + 1], min_size, p)
                 for j, (k, p) in enumerate(points, start=1) if p is not None)


def change_points_of(name: str, metric: str, run_ids: Sequence[str], values: Sequence[float],
                     *, commits: Sequence[str] | None = None, min_size: int = MIN_SIZE,
                     min_ratio: float = MIN_RATIO, alpha: float = ALPHA
                     ) -> tuple[ChangePoint, ...]:
    """``detect_change_points`` of a run-by-run series, its runs pooled per commit first
    (``commits[i]`` is run i's commit; ``series.pool_runs_by_commit``), each change point
    labelled with the run that names the commit where the new level starts; runs without
    a finite positive value are left out."""
    hist = pool_runs_by_commit(name, run_ids, values, commits)
    return tuple(ChangePoint(name=name, metric=metric, run_id=hist.labels[s.index],
                             ratio=s.ratio)
                 for s in detect_change_points(list(hist.replicates), min_size=min_size,
                                               min_ratio=min_ratio, alpha=alpha))


def drift_ratio(values: Sequence[float]) -> float:
    """Change over the whole window implied by the Theil–Sen slope of log values."""
    logs = commit_log_levels(values)
    if logs.size < 3:
        return 1.0
    slope = stats.theilslopes(logs).slope
    return exp_ratio(float(slope) * (logs.size - 1))
