"""How the metrics move together: the correlation heatmap's numbers.

Raw values correlate trivially across benchmarks (a big benchmark is big in every
metric), which says nothing. What a team wants to know is "when time goes up, does
memory go up too?", so each benchmark's series is first divided by its own median and
logged; the Spearman correlation of those relative changes is then taken over all
(benchmark, commit) points.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from perf_pipeline.model import ReportData

__all__ = ["CORRELATION_METRICS", "metric_correlation"]

#: The metrics shown in the heatmap, in display order.
CORRELATION_METRICS = ("time_s", "p99_s", "peak_rss_bytes", "tracemalloc_peak_bytes",
                       "cpu_user_s", "cpu_system_s", "io_read_bytes", "io_write_bytes",
                       "gc_collections")


def metric_correlation(
    data: ReportData, *, max_points: int = 200_000,
) -> tuple[list[str], list[list[float | None]]]:
    """``(metrics, matrix)``; cells are ``None`` where too few points overlap.

    Metrics with fewer than three points, or that never vary, are left out, so the
    heatmap only shows what was measured. Above ``max_points`` (benchmark, commit)
    points an even thinning is used: the estimate barely moves and a 500 x 1,000 history stays fast.
    """
    metrics_present = {s.metric for s in data.series if s.metric in CORRELATION_METRICS}
    metrics = [m for m in CORRELATION_METRICS if m in metrics_present]
    run_pos = {r.run_id: i for i, r in enumerate(data.runs)}
    for s in data.series:  # series may name runs the run list lacks
        for rid in s.run_ids:
            run_pos.setdefault(rid, len(run_pos))
    names: dict[str, int] = {}
    for s in data.series:
        names.setdefault(s.name, len(names))
    n_runs = max(len(run_pos), 1)
    table = np.full((len(names) * n_runs, len(metrics)), np.nan)
    col_of = {m: j for j, m in enumerate(metrics)}
    positions_cache: dict[int, np.ndarray] = {}
    for s in data.series:
        if s.metric not in col_of or not s.values:
            continue
        pos = positions_cache.get(id(s.run_ids))
        if pos is None:
            pos = np.fromiter((run_pos[r] for r in s.run_ids), dtype=np.int64,
                              count=len(s.run_ids))
            positions_cache[id(s.run_ids)] = pos
        values = np.asarray(s.values, dtype=float)
        ok = np.isfinite(values) & (values > 0)
        if not ok.any():
            continue
        rel = np.full(values.shape, np.nan)
        rel[ok] = np.log(values[ok] / float(np.median(values[ok])))
        table[names[s.name] * n_runs + pos, col_of[s.metric]] = rel
    rows = table[~np.all(np.isnan(table), axis=1)]
    if rows.shape[0] > max_points:
        rows = rows[:: math.ceil(rows.shape[0] / max_points)]
    counts = np.sum(~np.isnan(rows), axis=0)
    with warnings.catch_warnings():  # an all-NaN column is expected; it is filtered below
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanstd(rows, axis=0) if rows.size else np.zeros(len(metrics))
    # A metric that never moves (I/O of a pure-CPU suite) has no correlation to show.
    metrics = [m for m, c, sd in zip(metrics, counts, spread, strict=True)
               if c >= 3 and sd > 0]
    if len(metrics) < 2:
        return metrics, []
    frame = pd.DataFrame(rows[:, [col_of[m] for m in metrics]], columns=metrics)
    corr = frame.corr(method="spearman", min_periods=3)
    matrix = [[None if not math.isfinite(x) else round(float(x), 3) for x in row]
              for row in corr.to_numpy()]
    return metrics, matrix
