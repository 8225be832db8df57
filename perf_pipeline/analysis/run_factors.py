"""Histories without the machine's mood: divide each run by its suite-wide factor.

On a shared machine a run (its processes) is slowed or sped up as a whole: every
benchmark of the run moves together. Over a history that factor comes in waves (a busy
hour, a noisy neighbour) lasting a dozen runs, which a trend test cannot tell from a
slow creep in the code: on replayed real noise with one process per commit, drift
alarms fired in about 16 % of flat histories, change points and drifts together in
about 18 %. Dividing every run by its factor — the median over the suite of each
benchmark's deviation from its usual level, the same factor the screen removes run by
run — leaves what a benchmark did *relative to the rest of the suite*; the same replay
then gives about 3 % (benchmarks/history_factor.py).

The price: a change that slows the whole suite alike is divided out with the load. That
one is the per-commit gate's to catch (its screen tests the suite-wide shift of each
run as a hypothesis of its own, and the A/B confirms it). A change in fewer than half of
the benchmarks moves the median factor little. With fewer than
``MIN_BENCHMARKS_FOR_FACTOR`` benchmarks in a run its factor cannot be told from its
benchmarks' own changes, and the run is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perf_pipeline.model import TIME_METRIC, MetricSeries

__all__ = ["MIN_BENCHMARKS_FOR_FACTOR", "factor_free_series", "run_factors"]

#: Fewest benchmarks in a run for its suite-wide factor to be estimated.
MIN_BENCHMARKS_FOR_FACTOR = 5


def run_factors(log_values: np.ndarray) -> np.ndarray:
    """Per run (row), the log suite factor of a (runs, benchmarks) array of log values,
    NaN where a benchmark was not measured; 0 for runs with too few benchmarks."""
    arr = np.asarray(log_values, dtype=float)
    if arr.ndim != 2:
        raise ValueError("log_values must be 2-D (runs, benchmarks)")
    out = np.zeros(arr.shape[0])
    if arr.size == 0:
        return out
    finite = np.isfinite(arr)
    counts = finite.sum(axis=0)
    usual = np.full(arr.shape[1], np.nan)
    have = counts > 0
    usual[have] = np.nanmedian(arr[:, have], axis=0)
    dev = arr - usual
    enough = np.isfinite(dev).sum(axis=1) >= MIN_BENCHMARKS_FOR_FACTOR
    if enough.any():
        out[enough] = np.nanmedian(dev[enough], axis=1)
    return out


def factor_free_series(series: Sequence[MetricSeries], *, metric: str = TIME_METRIC
                       ) -> tuple[MetricSeries, ...]:
    """The ``metric`` series of ``series`` with each run divided by its suite factor
    (runs matched by run id; other metrics are left out). Values that are not finite
    and positive stay as they are and take no part in the factor."""
    chosen = [s for s in series if s.metric == metric]
    run_ids = list(dict.fromkeys(r for s in chosen for r in s.run_ids))
    row = {r: i for i, r in enumerate(run_ids)}
    logs = np.full((len(run_ids), len(chosen)), np.nan)
    for j, s in enumerate(chosen):
        vals = np.asarray(s.values, dtype=float)
        ok = np.isfinite(vals) & (vals > 0)
        idx = [row[r] for r in s.run_ids]
        logs[np.asarray(idx, dtype=int)[ok], j] = np.log(vals[ok])
    factor = np.exp(run_factors(logs))
    out = []
    for s in chosen:
        f = factor[[row[r] for r in s.run_ids]] if s.run_ids else np.ones(0)
        scale = [float(1.0 / x) for x in f]  # plain floats: results get serialised
        out.append(MetricSeries(
            name=s.name, metric=s.metric, run_ids=s.run_ids,
            values=tuple(v * k for v, k in zip(s.values, scale, strict=True)),
            lows=tuple(v * k for v, k in zip(s.lows, scale, strict=True)),
            highs=tuple(v * k for v, k in zip(s.highs, scale, strict=True))))
    return tuple(out)
