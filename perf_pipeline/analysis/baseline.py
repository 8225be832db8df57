"""Build a baseline from successful runs and judge a new run against it.

The baseline keeps, per benchmark and metric, one summary per source run (``run_values``)
— the run-to-run history that the within-run samples cannot show — plus the latest run's
raw samples. ``compare_to_baseline`` then applies the run-level test of ``runlevel``:
the current run's summary against the prediction distribution of a new run, after the
machine factor common to the whole suite has been removed; the suite-wide shift itself is
tested as one more hypothesis (``SUITE_SHIFT_NAME``) so a uniform slowdown is reported.
All hypotheses of the run (every benchmark and metric, and the shifts) form one Holm (or
BH) family.

With fewer than 2 baseline runs the run-to-run variance is unknown. We do not pretend it
is zero (the within-run test would flag most unchanged commits): we use the within-run
samples when present plus an assumed run-to-run CV of ``ASSUMED_RUN_CV`` per run, and say
so in ``reason``. The verdict is then only as good as that assumption.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy import stats

from perf_pipeline.analysis.multiple import CORRECTIONS, adjust_p_values
from perf_pipeline.analysis.runlevel import (
    MIN_BENCHMARKS_FOR_SHIFT,
    PRIOR_RUN_CV,
    RunLevelResult,
    run_level_test,
)
from perf_pipeline.analysis.tails import norm_isf, norm_sf, t_isf
from perf_pipeline.analysis.verdict import (
    Estimate,
    hold_raw_change,
    judge,
    require_raw_change,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    METRICS,
    SUITE_SHIFT_NAME,
    TIME_METRIC,
    Baseline,
    BaselineEntry,
    BenchmarkComparison,
    BenchmarkResult,
    Comparison,
    RunStatus,
    SuiteComparison,
    SuiteRun,
    Verdict,
)

__all__ = ["ASSUMED_RUN_CV", "SUITE_SHIFT_NAME", "build_baseline", "compare_to_baseline"]

#: Run-to-run CV assumed when the baseline has a single run (typical of a shared runner).
ASSUMED_RUN_CV = PRIOR_RUN_CV


def _check_run(run: SuiteRun, what: str) -> None:
    if run.status is not RunStatus.SUCCESS:
        raise InvalidInputError(f"{what} {run.run_id}: status is {run.status}, "
                                "a failed run cannot be used")
    if not run.benchmarks:
        raise InvalidInputError(f"{what} {run.run_id}: has no benchmarks (partial run?)")


def build_baseline(runs: Sequence[SuiteRun], *, policy: str = "rolling", created_at: str,
                   metrics: Sequence[str] = tuple(METRICS)) -> Baseline:
    """A baseline from successful runs, oldest first in history order (as
    ``HistoryStore.recent_commit_runs`` returns them, or A/B rounds in the order run).

    The order is kept, not re-sorted by start time: the last run is the newest commit
    (the confirmation's reference, the report's "vs" commit, the samples kept), and a
    backfill or culprit search measures older commits after newer ones.

    Refuses failed runs and runs without benchmarks (``InvalidInputError``). A benchmark
    absent from some runs gets the values of the runs that have it, each labelled with
    its run (``BaselineEntry.runs``).
    """
    if not runs:
        raise InvalidInputError("`runs`: a baseline needs at least one successful run")
    for m in metrics:
        if m not in METRICS:
            raise InvalidInputError(f"`metrics`: unknown metric {m!r}")
    for run in runs:
        _check_run(run, "baseline run")
    ordered = list(runs)
    by_name = [{b.name: b for b in r.benchmarks} for r in ordered]
    names = sorted({name for run in by_name for name in run})
    newest = ordered[-1]
    entries = []
    for name in names:
        present = [(k, run[name]) for k, run in enumerate(by_name) if name in run]
        # A run whose rounds read 0.0 s has no time to judge against (_judged_time).
        timed = [(k, b) for k, b in present if _judged_time(b)]
        for metric in metrics:
            usable = timed if metric == TIME_METRIC else present
            measured = [(k, float(v)) for k, v in ((k, b.metric(metric)) for k, b in usable)
                        if v is not None]
            if not measured:
                continue
            samples = usable[-1][1].samples_s if metric == TIME_METRIC else ()
            entries.append(BaselineEntry(name=name, metric=metric,
                                         run_values=tuple(v for _, v in measured),
                                         samples=tuple(samples),
                                         runs=tuple(k for k, _ in measured)))
    commits: list[str] = []
    for run in ordered:
        if run.sha and run.sha not in commits:
            commits.append(run.sha)
    machines = {r.machine_id for r in ordered}
    return Baseline(policy=policy, created_at=created_at,
                    source_run_ids=tuple(r.run_id for r in ordered),
                    source_commits=tuple(commits), entries=tuple(entries),
                    environment=newest.environment,
                    machine_id=machines.pop() if len(machines) == 1 else None)


def _judged_time(bench: BenchmarkResult) -> bool:
    """Whether ``bench``'s time can be judged: not when a round read 0.0 s.

    Such a benchmark runs below the timer's resolution: its times are whole ticks (a
    change of one tick reads as x2), and a 0 has no logarithm, on which every test here
    works (one 0 made the within-run spread infinite, or NaN). Its run is kept in the
    history and the user is told (``pipeline/regression.py``), but its time is neither
    judged nor a baseline.
    """
    return bench.zero_time_samples == 0


def _log_var_within(samples: Sequence[float]) -> float:
    """Robust variance of a run's log samples — not divided by n, on purpose.

    Samples of one process are not independent (a disturbed stretch of a run moves many
    of them together), so the spread of a run, not its standard error, bounds how far
    its median can sit from where a quiet run would put it. A run whose samples scatter
    by 50 % cannot pin its level to 1 %.
    """
    logs = np.log(np.asarray(samples, dtype=float))
    if logs.size < 2:
        return 0.0
    mad = float(stats.median_abs_deviation(logs, scale="normal"))
    return mad * mad


def _fallback(entry: BaselineEntry, value: float, samples: Sequence[float],
              alpha: float, shift: float = 0.0) -> Estimate:
    """Too little history: an assumed run-to-run CV plus each run's own dispersion.

    ``shift`` is the suite-wide log shift of this run (the machine factor), removed when
    the suite is large enough to estimate it — one busy baseline run must not make
    every benchmark an "improvement".
    """
    base = float(np.median(entry.run_values))
    delta = math.log(value) - math.log(base) - shift
    var = 2.0 * ASSUMED_RUN_CV**2
    if entry.samples and samples:
        var += _log_var_within(entry.samples) + _log_var_within(samples)
    se = math.sqrt(var)
    z = float(norm_isf(alpha / 2))
    return Estimate(
        log_ratio=delta, log_ci_low=delta - z * se, log_ci_high=delta + z * se,
        p_value=float(norm_sf(abs(delta) / se)), n_baseline=len(entry.run_values),
        n_current=1,
        method="ratio of run summaries, z-test with assumed run-to-run CV and run dispersion",
        note=(f"only {len(entry.run_values)} baseline run(s): run-to-run noise unknown, "
              f"assumed CV {ASSUMED_RUN_CV:.0%} per run plus each run's own spread"),
        n_units=1, unit="baseline runs", var_scalable=None)


def _run_estimate(res: RunLevelResult, i: int, raw_log_ratio: float, alpha: float,
                  shift_applied: bool) -> Estimate:
    delta, se, df = float(res.delta[i]), float(res.se[i]), float(res.df[i])
    k = int(res.n_runs[i])
    q = float(t_isf(alpha / 2, df))
    note = f"{k} baseline runs"
    if shift_applied:
        note += (f"; judged relative to the suite-wide shift {math.exp(float(res.shift)) - 1:+.1%}"
                 f" (raw ratio {math.exp(raw_log_ratio):.3f})")
    return Estimate(
        log_ratio=delta, log_ci_low=delta - q * se, log_ci_high=delta + q * se,
        p_value=float(res.p_value[i]), n_baseline=k, n_current=1,
        method="run-level prediction interval, moderated t"
               + (", suite shift removed" if shift_applied else ""),
        note=note, n_units=1, unit="runs of this commit",
        var_scalable=se * se * k / (k + 1), var_fixed=se * se / (k + 1),
        raw_log_ratio=raw_log_ratio if shift_applied else None)


def _shift_estimate(res: RunLevelResult, k: int, alpha: float) -> Estimate:
    shift, se = float(res.shift), float(res.shift_se)
    q = float(t_isf(alpha / 2, float(res.shift_df)))
    return Estimate(
        log_ratio=shift, log_ci_low=shift - q * se, log_ci_high=shift + q * se,
        p_value=float(res.shift_p_value), n_baseline=k, n_current=1,
        method="suite-wide shift (median over benchmarks) vs baseline runs' machine factors",
        note="test of a shift common to every benchmark", n_units=1, unit="runs of this commit",
        var_scalable=se * se * k / (k + 1), var_fixed=se * se / (k + 1))


def _zero_offset(metric: str, value: float, run_values: Sequence[float]) -> float:
    """What is added to every value of a counter that was 0 (baseline or current): its
    ``min_abs_change``, the smallest change that matters. A 0 has no ratio, so one 0 in
    the baseline made the benchmark "inconclusive: ratio undefined" whatever came next (a
    tracemalloc peak of 0 then 50 MB could never be flagged). Offset, 0 -> 50 MB reads
    as the ratio of 50 MB to the floor, and 0 -> 0 stays "all zero"."""
    spec = METRICS[metric]
    floor = spec.min_abs_change
    if not spec.zero_ok or floor <= 0 or not run_values:
        return 0.0
    if min(value, *run_values) != 0 or max(value, *run_values) == 0:
        return 0.0
    return floor


def _offset_noted(est: Estimate, metric: str, offset: float) -> Estimate:
    what = f"{offset:g} {METRICS[metric].unit}"
    note = (f"a value was 0, which has no ratio: {what} (the smallest change that matters) "
            "added to every value")
    return replace(est, note=f"{note}; {est.note}" if est.note else note)


def _metric_estimates(baseline: Baseline, run: SuiteRun, metric: str, alpha: float
                      ) -> list[tuple[str, Estimate, float | None]]:
    """Per benchmark (and the suite shift): its estimate, and its raw ratio when the
    estimate is relative to a removed suite-wide shift (else ``None``)."""
    k_total = len(baseline.source_run_ids)
    rows: list[tuple[str, BaselineEntry, float, Sequence[float]]] = []
    out: list[tuple[str, Estimate, float | None]] = []
    offsets: dict[str, float] = {}
    for bench in run.benchmarks:
        entry = baseline.entry(bench.name, metric)
        value = bench.metric(metric)
        if entry is None or value is None or not entry.run_values:
            continue
        if metric == TIME_METRIC and not _judged_time(bench):
            continue  # left out of judging, said in the analysis's notes
        offset = _zero_offset(metric, value, entry.run_values)
        if offset:
            entry = replace(entry, run_values=tuple(v + offset for v in entry.run_values),
                            samples=())
            value += offset
            offsets[bench.name] = offset
        if value <= 0 or min(entry.run_values) <= 0:
            both_zero = value == 0 and max(entry.run_values) == 0
            out.append((bench.name, Estimate(
                0.0 if both_zero else math.nan, 0.0 if both_zero else -math.inf,
                0.0 if both_zero else math.inf, 1.0, len(entry.run_values), 1, "none",
                note="all zero" if both_zero else "zero values: ratio undefined"), None))
            continue
        samples = bench.samples_s if metric == TIME_METRIC else ()
        rows.append((bench.name, entry, float(value), samples))
    if not rows:
        return out
    hist = np.full((len(rows), max(k_total, 1)), np.nan)
    for i, (_, entry, _, _) in enumerate(rows):
        if entry.runs:  # each value in its own run's column, gaps left NaN
            hist[i, list(entry.runs)] = np.log(np.asarray(entry.run_values, dtype=float))
            continue
        vals = np.log(np.asarray(entry.run_values[-hist.shape[1]:], dtype=float))
        hist[i, hist.shape[1] - vals.size:] = vals
    cur = np.log(np.array([r[2] for r in rows]))
    prior_cv = PRIOR_RUN_CV if METRICS[metric].unit == "s" else 0.0
    res = run_level_test(hist, cur, prior_cv=prior_cv) if k_total >= 2 else None
    shift_applied = res is not None and bool(np.isfinite(res.shift_p_value))
    fallback_shift = 0.0
    if res is None and len(rows) >= MIN_BENCHMARKS_FOR_SHIFT:
        fallback_shift = float(np.median(
            cur - np.log([float(np.median(r[1].run_values)) for r in rows])))
    for i, (name, entry, value, samples) in enumerate(rows):
        raw_ratio = value / float(np.median(entry.run_values))
        if res is not None and np.isfinite(res.p_value[i]):
            raw = float(cur[i] - np.nanmean(hist[i]))
            out.append((name, _run_estimate(res, i, raw, alpha, shift_applied),
                        raw_ratio if shift_applied else None))
        else:
            out.append((name, _fallback(entry, value, samples, alpha, fallback_shift),
                        raw_ratio if fallback_shift else None))
    out = [(name, _offset_noted(est, metric, offsets[name]) if name in offsets else est, raw)
           for name, est, raw in out]
    if res is not None and shift_applied:
        out.append((SUITE_SHIFT_NAME, _shift_estimate(res, k_total, alpha), None))
    elif res is None and len(rows) >= MIN_BENCHMARKS_FOR_SHIFT:
        out.append((SUITE_SHIFT_NAME, Estimate(
            log_ratio=fallback_shift, log_ci_low=-math.inf, log_ci_high=math.inf, p_value=1.0,
            n_baseline=k_total, n_current=1, method="suite-wide shift (median over benchmarks)",
            note="one baseline run: a shift of the whole suite cannot be told apart from "
                 "the machine's state; benchmarks are judged relative to it"), None))
    return out


def _below_min_abs_change(comparison: Comparison, metric: str, change: float | None
                          ) -> Comparison:
    """A significant change too small in absolute terms to matter is "unchanged"."""
    floor = METRICS[metric].min_abs_change
    if (floor <= 0 or change is None or abs(change) >= floor
            or comparison.verdict not in (Verdict.REGRESSION, Verdict.IMPROVEMENT)):
        return comparison
    return replace(comparison, verdict=Verdict.UNCHANGED, reason=(
        f"{comparison.reason}; absolute change {change:+.3g} {METRICS[metric].unit} is below "
        f"the minimum that matters ({floor:.3g} {METRICS[metric].unit})"))


def _abs_change(baseline: Baseline, run: SuiteRun, name: str, metric: str) -> float | None:
    entry, bench = baseline.entry(name, metric), run.benchmark(name)
    value = bench.metric(metric) if bench else None
    if entry is None or value is None or not entry.run_values:
        return None
    return float(value) - float(np.median(entry.run_values))


def compare_to_baseline(baseline: Baseline, run: SuiteRun, *, threshold: float | None = None,
                        alpha: float = 0.01, correction: str = "holm",
                        metrics: Sequence[str] = (TIME_METRIC,),
                        require_raw: bool = True) -> SuiteComparison:
    """Judge ``run`` against ``baseline`` using its run-level history (module docstring).

    ``threshold`` applies to ``time_s``; ``None`` and every other metric use the metric's
    ``default_threshold``. All hypotheses of the run are corrected together.
    ``require_raw=False`` keeps a change that is there only relative to the suite-wide
    shift (``require_raw_change``), and flags one whose own ratio is beyond the threshold
    while relative to the shift it is not (``hold_raw_change``): a screen whose flags are
    confirmed wants both.
    """
    if threshold is not None and not (math.isfinite(threshold) and threshold >= 1.0):
        raise InvalidInputError(f"`threshold` must be a finite number >= 1, got {threshold!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"`alpha` must be in (0, 1), got {alpha!r}")
    if correction not in CORRECTIONS:
        raise InvalidInputError(f"`correction` must be one of {CORRECTIONS}, got {correction!r}")
    for m in metrics:
        if m not in METRICS:
            raise InvalidInputError(f"`metrics`: unknown metric {m!r}")
    _check_run(run, "run")
    labelled: list[tuple[str, str, Estimate, float | None, float]] = []
    for m in metrics:
        thr = threshold if (threshold is not None and m == TIME_METRIC) else (
            METRICS[m].default_threshold)
        labelled += [(n, m, e, raw, thr)
                     for n, e, raw in _metric_estimates(baseline, run, m, alpha)]
    adjusted = adjust_p_values([e.p_value for _, _, e, _, _ in labelled], method=correction)
    results = tuple(
        BenchmarkComparison(name=n, metric=m, comparison=_below_min_abs_change(
            hold_raw_change(
                require_raw_change(judge(e, threshold=thr, alpha=alpha, adjusted_p=float(p)),
                                   raw if require_raw else None),
                raw, flag=not require_raw),
            m, _abs_change(baseline, run, n, m)))
        for (n, m, e, raw, thr), p in zip(labelled, adjusted, strict=True))
    base_names = {e.name for e in baseline.entries}
    run_names = {b.name for b in run.benchmarks}
    return SuiteComparison(results=results, correction=correction, alpha=alpha,
                           new=tuple(sorted(run_names - base_names)),
                           missing=tuple(sorted(base_names - run_names)))
