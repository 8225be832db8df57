"""Per-commit values of a history, as the history statistics take them.

A commit may have been measured once or several times (several processes, several runs).
Replicates of one commit share that commit's moment on the machine, so they are not
independent units of the history: each commit becomes one number, the median of its
replicates' logs, which uses them all and lets no single replicate decide. Logs, because
changes are relative and the noise of timings is multiplicative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perf_pipeline.errors import InvalidInputError

__all__ = ["MAX_SERIAL_CORRELATION", "CommitHistory", "SliceOrder", "commit_log_levels",
           "local_residuals", "median", "midranks", "pool_runs_by_commit", "row_medians",
           "serial_inflation", "windows"]

#: Cap on the lag-1 correlation used to widen a test (beyond it the estimate is noise).
MAX_SERIAL_CORRELATION = 0.8


def _bad(i: int) -> InvalidInputError:
    return InvalidInputError(f"`values`[{i}] must be finite positive numbers (a value or "
                             "a non-empty sequence of replicates)")


def commit_log_levels(values: Sequence[float] | Sequence[Sequence[float]] | np.ndarray
                      ) -> np.ndarray:
    """One log level per commit: ``values`` holds a float or a sequence of replicates per
    commit, oldest first (a 2-D array is one row of replicates per commit)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InvalidInputError("`values` must be a sequence of per-commit values, got "
                                f"{type(values).__name__}")
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        arr = None  # ragged replicates: one commit at a time below
    if arr is not None and arr.ndim in (1, 2) and arr.size:
        if not np.all(np.isfinite(arr) & (arr > 0)):
            bad = ~np.isfinite(arr) | (arr <= 0)
            raise _bad(int(np.argwhere(bad)[0][0]))
        logs = np.log(arr)
        return _in_range(logs if logs.ndim == 1 else row_medians(logs))
    if arr is not None and arr.size == 0 and arr.ndim == 1:
        return np.empty(0)
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            rep = np.asarray(v, dtype=float).ravel()
        except (TypeError, ValueError) as exc:
            raise _bad(i) from exc
        if rep.size == 0 or not np.all(np.isfinite(rep) & (rep > 0)):
            raise _bad(i)
        out[i] = np.median(np.log(rep))
    return _in_range(out)


#: The largest log-ratio whose ratio is a float (exp(709.78) is about 1.8e308).
_MAX_LOG_SPAN = 709.0


def _in_range(logs: np.ndarray) -> np.ndarray:
    """Refuse levels whose ratio is no float (1e-300 then 1e300: each finite and
    positive, their ratio not): every step and drift is a ratio of two of them, and one
    beyond a float raised OverflowError deep in the scan."""
    if logs.size and float(np.max(logs) - np.min(logs)) > _MAX_LOG_SPAN:
        raise InvalidInputError(
            f"`values` span a ratio of e^{float(np.max(logs) - np.min(logs)):.0f}, beyond "
            "what a float holds: these cannot be levels of one measurement")
    return logs


def midranks(x: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Mid-ranks of ``x`` (1-based) and the tie term ``sum(t^3 - t)``; numpy only (the
    scan ranks many segments, and scipy's per-call overhead dominated its cost).
    ``order``: the stable argsort of ``x``, when the caller has it (``SliceOrder``)."""
    n = x.size
    if order is None:
        order = x.argsort(kind="stable")
    ranks = np.empty(n)
    xs = x[order]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    if new.all():  # no ties: the usual case, and the cheap one
        ranks[order] = np.arange(1.0, n + 1.0)
        return ranks, 0.0
    starts = new.nonzero()[0]
    sizes = np.empty(starts.size, dtype=starts.dtype)  # of each group of equal values
    sizes[:-1] = starts[1:] - starts[:-1]
    sizes[-1] = n - starts[-1]
    counts = sizes.astype(float)
    ranks[order] = (starts + (counts + 1.0) / 2.0).repeat(sizes)
    # the tie term over the groups of two or more (the others add exact zeros; every
    # term and sum is an integer below 2^53 for any history under 200,000 commits, so
    # the order of the sum does not matter)
    tied = counts[sizes > 1]
    return ranks, float((tied ** 3 - tied).sum())


class SliceOrder:
    """The stable argsort of any slice of one series, from one sort of the whole.

    A stable sort puts equal values in index order, in the whole series as in any slice
    of it, so a slice's own order is the whole's entries that fall inside it, in turn:
    the same array ``argsort(kind="stable")`` of the slice returns. Filtering costs a
    pass over the whole series, so a slice shorter than a quarter of it is sorted
    again (cheaper there); a segmentation ranks a long history's long segments again
    and again.
    """

    __slots__ = ("_order", "_x")

    def __init__(self, x: np.ndarray) -> None:
        self._x = x
        self._order = x.argsort(kind="stable")

    def __call__(self, lo: int, hi: int) -> np.ndarray:
        """The stable argsort of ``x[lo:hi]``."""
        if 4 * (hi - lo) < self._x.size:
            return self._x[lo:hi].argsort(kind="stable")
        order = self._order
        return order[(order >= lo) & (order < hi)] - lo


def median(x: np.ndarray) -> float:
    """``np.median`` of a 1-D finite array, exactly, without its generic machinery: the
    change-point refinement takes thousands of medians of a few dozen values, where that
    overhead was most of the cost. (``np.median`` averages the middle values from a sum
    that starts at +0.0, so a median of -0.0 reads +0.0; adding 0.0 does the same.)"""
    n = x.size
    half = n // 2
    if n % 2:
        return float(np.partition(x, half)[half] + 0.0)
    part = np.partition(x, (half - 1, half))
    return float((part[half - 1] + 0.0 + part[half]) / 2.0)


def row_medians(rows: np.ndarray) -> np.ndarray:
    """``np.median(rows, axis=1)`` of a finite 2-D array, exactly (as ``median``), without
    its generic machinery (tens of microseconds a
    call, more than the medians themselves on a short history)."""
    half = rows.shape[1] // 2
    if rows.shape[1] % 2:
        return np.partition(rows, half, axis=1)[:, half] + 0.0
    part = np.partition(rows, (half - 1, half), axis=1)
    return (part[:, half - 1] + 0.0 + part[:, half]) / 2.0


def windows(x: np.ndarray, width: int) -> np.ndarray:
    """A read-only view whose row ``i`` is ``x[i:i + width]`` (``width <= x.size``):
    numpy's ``sliding_window_view`` without its argument checks, which cost more than
    the scans that read the view on a history of a few hundred commits."""
    x = np.ascontiguousarray(x)
    step = x.itemsize
    out = np.ndarray((x.size - width + 1, width), dtype=x.dtype, buffer=x,
                     strides=(step, step))
    out.flags.writeable = False
    return out


def serial_inflation(residuals: np.ndarray, *, discount: float = 0.0,
                     order: np.ndarray | None = None) -> float:
    """How much serial correlation widens the variance of a rank sum over a series.

    On a shared machine load comes in waves, so neighbouring commits are alike more often
    than independent ones would be, and a rank test that assumes independence finds
    "levels" in every wave. For an AR(1) series with lag-1 correlation ``rho`` the
    long-run variance of a sum is ``(1 + rho) / (1 - rho)`` times the independent one.
    ``rho`` is Spearman's lag-1 correlation of ``residuals`` (the series with its fitted
    level or local level removed, so that a change is not mistaken for correlation; a
    spike moves one rank), clipped to ``[0, MAX_SERIAL_CORRELATION]``, so independent
    noise costs nothing. ``discount`` takes that many of rho's standard errors under
    independence (``1 / sqrt(n)``) off it first: on a short history the estimate is
    mostly noise, and a chance correlation of 0.2 would hide a clean step. ``order``: the
    stable argsort of ``residuals``, when the caller has it.
    """
    if residuals.size < 4 or residuals.max() == residuals.min():
        return 1.0
    # Mid-ranks, as Spearman's rho has them: a coarse timer's ties ranked by position
    # read as runs of neighbours alike (i.i.d. noise at 2 % rounded to 2 %: x2.15 for x1.06)
    ranks, _ = midranks(residuals, order)
    ranks -= ranks.mean()
    rho = float((ranks[1:] * ranks[:-1]).sum()) / float((ranks * ranks).sum())
    rho -= discount / math.sqrt(residuals.size)
    rho = min(max(rho, 0.0), MAX_SERIAL_CORRELATION)
    return (1.0 + rho) / (1.0 - rho)


def local_residuals(y: np.ndarray, width: int = 9) -> np.ndarray:
    """``y`` minus its running median over ``width`` commits: what is left once levels,
    steps and ramps longer than the window are taken out."""
    half = width // 2
    if y.size == 0:
        return y.copy()
    padded = np.concatenate((np.full(half, y[0]), y, np.full(half, y[-1])))
    return y - np.partition(windows(padded, 2 * half + 1), half, axis=1)[:, half]


@dataclass(frozen=True, slots=True)
class CommitHistory:
    """A run-by-run series pooled per commit: ``replicates[i]`` holds the values of every
    run of the i-th commit (commits in the order of their first run), ``labels[i]`` the
    run id that stands for that commit (its newest run, as the pooled run of the commit
    is named: ``store.pooling``)."""

    labels: tuple[str, ...]
    replicates: tuple[tuple[float, ...], ...]


def pool_runs_by_commit(name: str, run_ids: Sequence[str], values: Sequence[float],
                        commits: Sequence[str] | None = None) -> CommitHistory:
    """The runs of a series grouped by commit, before the history statistics see them.

    Runs of one commit (re-measurements, replicate jobs) share its code, so they are
    replicates of one point of the history, not later points of it: counted as separate
    commits they would look like a level that lasts, and a re-measured commit would count
    twice. ``commits[i]`` is the commit of run ``run_ids[i]`` (None: every run its own
    commit). Runs without a finite positive value are left out. Runs of different machines
    must not be mixed in one series: the caller reads one machine's history.
    """
    n = len(run_ids)
    if len(values) != n or (commits is not None and len(commits) != n):
        raise InvalidInputError(f"series {name!r}: run_ids, values and commits differ in "
                                "length")
    keys = list(run_ids) if commits is None else list(commits)
    order: dict[str, int] = {}
    labels: list[str] = []
    reps: list[list[float]] = []
    for run_id, key, v in zip(run_ids, keys, values, strict=True):
        v = float(v)
        if not (np.isfinite(v) and v > 0):
            continue
        i = order.get(key)
        if i is None:
            order[key] = len(labels)
            labels.append(run_id)
            reps.append([v])
        else:
            labels[i] = run_id  # the newest run names the commit
            reps[i].append(v)
    return CommitHistory(labels=tuple(labels), replicates=tuple(tuple(r) for r in reps))
