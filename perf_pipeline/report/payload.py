"""The data island of the HTML report: a compact, JSON-safe picture of ``ReportData``.

500 benchmarks x 1,000 commits must fit in a page of at most 20 MB, so the payload is
columnar and small on purpose:

* runs are listed once (short SHA, subject, date); series refer to them by index;
* a series is ``[bench, metric, runs, exponent, values, lows, highs]`` where the numbers
  are integers scaled by ``10**exponent`` (four significant digits of the *smallest*
  non-zero value, so a 50 µs median beside a 1 s outlier is not stored as 0) and
  ``lows``/``highs`` are offsets from the value, omitted when they are all zero; a series
  spanning more decades than a double holds as an exact integer carries floats of four
  significant digits instead, with an exponent of 0;
* ``runs`` is the index of the first run when the series covers consecutive runs (the
  usual case), else a list of run indices.

The page's JavaScript decodes this lazily, one benchmark at a time.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Sequence

import numpy as np

from perf_pipeline.model import (
    METRICS,
    SUITE_SHIFT_NAME,
    TIME_METRIC,
    MetricSeries,
    ReportData,
    Verdict,
)
from perf_pipeline.report.correlation import metric_correlation
from perf_pipeline.report.summary import VERDICT_ORDER, comparison_rows, summarize

__all__ = ["build_payload", "embed_json"]

logger = logging.getLogger(__name__)

_MAX_DIST_SAMPLES = 200
_SIG_DIGITS = 4
_MAX_INT_DIGITS = 15  # integers below 10**15 are exact in a JavaScript number
_MSG_CHARS = 100


def embed_json(obj: object) -> str:
    """JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c`` etc., so no ``</script>`` or ``<!--`` can
    appear in the page whatever a benchmark is called; U+2028/9 are escaped for old JS.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _exponent(values: np.ndarray) -> int | None:
    """The power of ten that keeps ``_SIG_DIGITS`` digits of every non-zero value.

    One exponent serves the whole series, so it is taken from the smallest magnitude: one
    taken from the largest turned a 50 µs median next to a 1 s outlier into 0, and
    4 KiB of I/O next to a 64 MiB cold read into 0 or 10,000. ``None`` when the largest
    value would then pass 10**15, beyond what JavaScript holds as an exact integer.
    """
    mags = np.abs(values[np.isfinite(values)])
    mags = mags[mags > 0]
    if not mags.size:
        return 0
    exponent = math.floor(math.log10(float(mags.min()))) - (_SIG_DIGITS - 1)
    if math.floor(math.log10(float(mags.max()))) - exponent >= _MAX_INT_DIGITS:
        return None
    return exponent


def _scaled(values: Sequence[float], exponent: int) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=float) / 10.0**exponent).astype(np.int64)


def _rounded(values: np.ndarray) -> list[float]:
    return [float(f"{x:.{_SIG_DIGITS}g}") for x in values.tolist()]


def _encode_series(s: MetricSeries, bench: int, metric: int,
                   run_positions: np.ndarray) -> list[object] | None:
    """One series in the compact layout; ``run_positions`` are -1 for unknown runs."""
    values = np.asarray(s.values, dtype=float)
    keep = (run_positions >= 0) & np.isfinite(values)
    if not keep.any():
        return None
    if not keep.all():
        logger.debug("series %r %s: %d points of unknown runs or non-finite values skipped",
                     s.name, s.metric, int((~keep).sum()))
    idx = run_positions[keep]
    values = values[keep]
    lows = np.asarray(s.lows, dtype=float)[keep]
    highs = np.asarray(s.highs, dtype=float)[keep]
    lows = np.where(np.isfinite(lows), lows, values)
    highs = np.where(np.isfinite(highs), highs, values)
    consecutive = bool(np.all(np.diff(idx) == 1))
    runs: object = int(idx[0]) if consecutive else idx.tolist()
    exp = _exponent(values)
    if exp is None:  # more than 15 decades: floats, each keeping its own digits
        lo_f, hi_f = values - lows, highs - values
        return [bench, metric, runs, 0, _rounded(values),
                _rounded(lo_f) if lo_f.any() else 0, _rounded(hi_f) if hi_f.any() else 0]
    v = _scaled(values, exp)
    lo = v - _scaled(lows, exp)
    hi = _scaled(highs, exp) - v
    return [bench, metric, runs, exp, v.tolist(),
            lo.tolist() if lo.any() else 0, hi.tolist() if hi.any() else 0]


def _round_samples(samples: Sequence[float]) -> list[float]:
    values: Sequence[float] = samples
    if len(values) > _MAX_DIST_SAMPLES:  # an even thinning keeps the shape of the spread
        step = len(values) / _MAX_DIST_SAMPLES
        values = [samples[int(i * step)] for i in range(_MAX_DIST_SAMPLES)]
    return [float(f"{x:.{_SIG_DIGITS}g}") for x in values]


#: The list's group of the suite-wide shift: not "(ungrouped)", among real benchmarks.
_SHIFT_GROUP = "(whole suite)"


def _group_of(name: str, group: str | None) -> str:
    if name == SUITE_SHIFT_NAME:
        return _SHIFT_GROUP
    if group:
        return group
    return name.split("::", 1)[0] if "::" in name else "(ungrouped)"


def _runs_block(data: ReportData) -> dict[str, list[object]]:
    cols: dict[str, list[object]] = {"sha": [], "msg": [], "date": [], "label": [], "ok": [],
                                     "suite": []}
    for r in data.runs:
        c = r.commit
        cols["sha"].append(c.short_sha if c else "")
        subject = c.subject if c else ""
        cols["msg"].append(subject[:_MSG_CHARS] + ("…" if len(subject) > _MSG_CHARS else ""))
        cols["date"].append(((c.committed_at if c and c.committed_at else r.started_at) or "")
                            [:16].replace("T", " "))
        cols["label"].append(r.label)
        cols["ok"].append(1 if str(r.status) == "success" else 0)
        cols["suite"].append(r.suite)
    return cols


def build_payload(data: ReportData) -> dict[str, object]:
    """Everything the page's scripts draw, in the compact layout described above."""
    summary = summarize(data)
    rows = comparison_rows(data)
    run_index = {r.run_id: i for i, r in enumerate(data.runs)}
    groups: dict[str, str | None] = {}
    if data.current is not None:
        groups.update((b.name, b.group) for b in data.current.benchmarks)
    names: list[str] = []
    seen: set[str] = set()
    for name in [*(r.name for r in rows), *groups, *(s.name for s in data.series)]:
        if name not in seen:
            seen.add(name)
            names.append(name)
    worst: dict[str, Verdict] = {}
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    for r in rows:
        if r.name not in worst or rank[r.verdict] < rank[worst[r.name]]:
            worst[r.name] = r.verdict
    best_row = {}
    for r in rows:  # rows are sorted most interesting first
        best_row.setdefault(r.name, r)
    names.sort(key=lambda n: (rank.get(worst.get(n), len(rank)),  # type: ignore[arg-type]
                              -(best_row[n].interest if n in best_row else 0.0), n))
    bench_index = {n: i for i, n in enumerate(names)}
    metrics = sorted({s.metric for s in data.series} | {TIME_METRIC},
                     key=lambda m: list(METRICS).index(m) if m in METRICS else 99)
    metric_index = {m: i for i, m in enumerate(metrics)}

    cmp_cols: list[list[object]] = []
    for r in rows:
        cmp_cols.append([bench_index[r.name], metric_index.setdefault(r.metric, len(metrics)),
                         str(r.verdict), _num(r.ratio), _num(r.ci_low), _num(r.ci_high),
                         _num(r.p_value), _num(r.adjusted_p_value), _num(r.baseline_value),
                         _num(r.current_value), 1 if r.from_ab else 0, _num(r.raw_ratio)])
        if r.metric not in metrics:
            metrics.append(r.metric)
    base_lines: list[list[object]] = []
    if data.baseline is not None:
        for e in data.baseline.entries:
            if e.name in bench_index and (e.run_values or e.samples):
                med = statistics.median(e.run_values or e.samples)
                if e.metric not in metric_index:
                    metric_index[e.metric] = len(metrics)
                    metrics.append(e.metric)
                base_lines.append([bench_index[e.name], metric_index[e.metric], _num(med)])
    series = []
    positions: dict[int, np.ndarray] = {}  # series usually share one run_ids tuple
    for s in data.series:
        if s.metric not in metric_index:
            continue
        pos = positions.get(id(s.run_ids))
        if pos is None:
            pos = np.fromiter((run_index.get(r, -1) for r in s.run_ids), dtype=np.int64,
                              count=len(s.run_ids))
            positions[id(s.run_ids)] = pos
        enc = _encode_series(s, bench_index[s.name], metric_index[s.metric], pos)
        if enc is not None:
            series.append(enc)
    dist = []
    if data.baseline is not None and data.current is not None:
        for b in data.current.benchmarks:
            entry = data.baseline.entry(b.name, TIME_METRIC)
            if entry is not None and (entry.samples or b.samples_s):
                dist.append([bench_index[b.name], _round_samples(entry.samples),
                             _round_samples(b.samples_s)])
    change_points = [[bench_index[c.name], metric_index[c.metric], run_index[c.run_id],
                      _num(c.ratio)]
                     for c in data.change_points
                     if c.name in bench_index and c.metric in metric_index
                     and c.run_id in run_index]
    drifts = [[bench_index[d.name], metric_index[d.metric], run_index[d.start_run_id],
               run_index[d.end_run_id], _num(d.ratio)]
              for d in data.drifts
              if d.name in bench_index and d.metric in metric_index
              and d.start_run_id in run_index and d.end_run_id in run_index]
    run_of_sha = {r.commit.sha: r.run_id for r in data.runs
                  if r.commit is not None and r.suite == "benchmarks"}
    culprits = [[bench_index[c.benchmark], metric_index[c.metric],
                 run_index[run_of_sha[c.sha]],
                 _num(c.confirmed_ratio if c.confirmed_ratio is not None else c.step_ratio),
                 c.sha[:10], c.status]
                for c in data.culprits
                if c.sha in run_of_sha and c.benchmark in bench_index
                and c.metric in metric_index and run_of_sha[c.sha] in run_index]
    corr_metrics, corr = metric_correlation(data)
    base = data.baseline
    return {
        "v": 1,
        "title": data.title,
        "status": summary.status,
        "headline": summary.headline,
        "runs": _runs_block(data),
        "current": run_index.get(data.current.run_id) if data.current else None,
        "baselineRuns": sorted(run_index[r] for r in (base.source_run_ids if base else ())
                               if r in run_index),
        "metrics": [[m, METRICS[m].label if m in METRICS else m,
                     METRICS[m].unit if m in METRICS else ""] for m in metrics],
        "names": names,
        # The suite-wide shift is a row of the comparison, no benchmark: the list counted
        # it as one ("7 of 7 benchmarks" beside a headline of 6).
        "shift": bench_index.get(SUITE_SHIFT_NAME),
        "groups": [_group_of(n, groups.get(n)) for n in names],
        "verdicts": [str(worst[n]) if n in worst else "" for n in names],
        "cmp": cmp_cols,
        "baseLines": base_lines,
        "changePoints": change_points,
        "drifts": drifts,
        "culprits": culprits,
        "series": series,
        "dist": dist,
        "corr": {"metrics": [METRICS[m].label if m in METRICS else m for m in corr_metrics],
                 "matrix": corr},
    }


def _num(x: float | None) -> float | None:
    """JSON has no NaN: missing or non-finite numbers travel as null."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.6g}")
