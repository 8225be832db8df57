"""Per-commit values of a history, as the history statistics take them.

A commit may have been measured once or several times (several processes, several runs).
Replicates of one commit share that commit's moment on the machine, so they are not
independent units of the history: each commit becomes one number, the median of its
replicates' logs, which uses them all and lets no single replicate decide. Logs, because
changes are relative and the noise of timings is multiplicative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perf_pipeline.errors import InvalidInputError

__all__ = ["MAX_SERIAL_CORRELATION", "commit_log_levels", "local_residuals",
           "serial_inflation"]

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
        return logs if logs.ndim == 1 else np.median(logs, axis=1)
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
    return out


def serial_inflation(residuals: np.ndarray) -> float:
    """How much serial correlation widens the variance of a rank sum over a series.

    On a shared machine load comes in waves, so neighbouring commits are alike more often
    than independent ones would be, and a rank test that assumes independence finds
    "levels" in every wave. For an AR(1) series with lag-1 correlation ``rho`` the
    long-run variance of a sum is ``(1 + rho) / (1 - rho)`` times the independent one.
    ``rho`` is Spearman's lag-1 correlation of ``residuals`` (the series with its fitted
    level or local level removed, so that a change is not mistaken for correlation; a
    spike moves one rank), clipped to ``[0, MAX_SERIAL_CORRELATION]``, so independent
    noise costs nothing.
    """
    if residuals.size < 4 or np.ptp(residuals) == 0:
        return 1.0
    ranks = np.argsort(np.argsort(residuals)).astype(float)
    ranks -= ranks.mean()
    rho = float(np.sum(ranks[1:] * ranks[:-1])) / float(np.sum(ranks * ranks))
    rho = min(max(rho, 0.0), MAX_SERIAL_CORRELATION)
    return (1.0 + rho) / (1.0 - rho)


def local_residuals(y: np.ndarray, width: int = 9) -> np.ndarray:
    """``y`` minus its running median over ``width`` commits: what is left once levels,
    steps and ramps longer than the window are taken out."""
    half = width // 2
    padded = np.pad(y, half, mode="edge")
    return y - np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)
