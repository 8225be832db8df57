"""Synthetic ``ReportData`` for the report tests and ``benchmarks/report_scale.py``.

Built by hand from the model classes (no store, no analysis), seeded, so a report test
always sees the same history: ``n_runs`` commits of ``n_benchmarks`` benchmarks, where
benchmark 0 regresses by 35 % at the newest commit and benchmark 1 improves.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from perf_pipeline.model import (
    SUITE_SHIFT_NAME,
    Baseline,
    BaselineEntry,
    BenchmarkComparison,
    BenchmarkResult,
    CommitInfo,
    Comparison,
    MetricSeries,
    ReportData,
    RunInfo,
    RunStatus,
    SuiteComparison,
    SuiteRun,
    Verdict,
)

XSS_NAME = "test_<img src=x onerror=alert(1)>"
XSS_MESSAGE = "Speed up | parser <script>window.__xss=1;alert(1)</script> `rm -rf` @team"

RESOURCE_METRICS = ("peak_rss_bytes", "tracemalloc_peak_bytes", "cpu_user_s", "cpu_system_s",
                    "io_read_bytes", "io_write_bytes", "gc_collections")


def _sha(i: int) -> str:
    return hashlib.sha1(f"commit-{i}".encode()).hexdigest()


def _name(i: int, hostile: bool) -> str:
    if hostile and i == 2:
        return XSS_NAME
    return f"tests/test_perf.py::test_bench_{i:03d}[case-{i % 7}]"


def make_report_data(
    *,
    n_benchmarks: int = 6,
    n_runs: int = 10,
    n_samples: int = 15,
    seed: int = 7,
    hostile: bool = True,
    with_comparison: bool = True,
    with_baseline: bool = True,
    metrics: tuple[str, ...] = ("time_s", "p99_s", *RESOURCE_METRICS),
) -> ReportData:
    """A history of ``n_runs`` runs; the last one is current and is compared."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n_runs):
        msg = XSS_MESSAGE if hostile and i == n_runs - 2 else f"Commit number {i}\n\nBody text."
        runs.append(RunInfo(
            run_id=f"run-{i:05d}", suite="benchmarks",
            started_at=f"2025-{1 + (i // 28) % 12:02d}-{1 + i % 28:02d}T12:{i % 60:02d}:00Z",
            status=RunStatus.SUCCESS,
            commit=CommitInfo(sha=_sha(i), branch="main", message=msg, author="dev",
                              committed_at=f"2025-01-{1 + i % 28:02d}T11:00:00Z"),
            fingerprint="abcd1234"))
    base_time = np.exp(rng.uniform(np.log(2e-5), np.log(0.2), n_benchmarks))
    base_mem = rng.uniform(50, 900, n_benchmarks) * 2**20
    factor = np.ones((n_benchmarks, n_runs))
    if n_benchmarks > 0:
        factor[0, -1] = 1.35
    if n_benchmarks > 1:
        factor[1, -1] = 0.7
    noise = 1 + 0.02 * rng.standard_normal((n_benchmarks, n_runs))
    medians = base_time[:, None] * factor * noise
    names = [_name(i, hostile) for i in range(n_benchmarks)]
    run_ids = tuple(r.run_id for r in runs)

    series = []
    for b, name in enumerate(names):
        med = medians[b]
        for metric in metrics:
            if metric == "time_s":
                vals, lows, highs = med, med * 0.97, med * 1.04
            elif metric == "p99_s":
                vals = lows = highs = med * 1.5
            elif metric in ("peak_rss_bytes", "tracemalloc_peak_bytes"):
                scale = 1.0 if metric == "peak_rss_bytes" else 0.3
                vals = lows = highs = np.round(base_mem[b] * scale * factor[b]
                                               * (1 + 0.002 * rng.standard_normal(n_runs)))
            elif metric == "gc_collections":
                vals = lows = highs = np.full(n_runs, float(b % 5))
            elif metric.startswith("io_"):
                vals = lows = highs = np.full(n_runs, float(4096 * (b % 3)))
            else:
                vals = lows = highs = med * (0.9 if metric == "cpu_user_s" else 0.05)
            series.append(MetricSeries(name=name, metric=metric, run_ids=run_ids,
                                       values=tuple(float(v) for v in vals),
                                       lows=tuple(float(v) for v in lows),
                                       highs=tuple(float(v) for v in highs)))

    def samples(center: float) -> tuple[float, ...]:
        return tuple(float(x) for x in center * (1 + 0.02 * rng.standard_normal(n_samples)))

    benchmarks = tuple(
        BenchmarkResult(
            name=name, samples_s=samples(medians[b, -1]) if n_runs else (),
            group=f"group-{b % 3}", iterations=10,
            extra=tuple((m, float(base_mem[b] * (0.3 if m.startswith("trace") else 1)
                                  * factor[b, -1]) if "bytes" in m and "io" not in m
                         else float(medians[b, -1] * 0.9)) for m in RESOURCE_METRICS[:4]))
        for b, name in enumerate(names))
    current = None
    if n_runs:
        last = runs[-1]
        current = SuiteRun(run_id=last.run_id, suite=last.suite, started_at=last.started_at,
                           status=RunStatus.SUCCESS, benchmarks=benchmarks, commit=last.commit,
                           duration_s=42.0)
    baseline = None
    base_runs = runs[max(0, n_runs - 11):-1]
    if with_baseline and base_runs:
        baseline = Baseline(
            policy="rolling", created_at="2025-01-20T10:00:00Z",
            source_run_ids=tuple(r.run_id for r in base_runs),
            source_commits=tuple(r.commit.sha for r in base_runs if r.commit),
            entries=tuple(
                BaselineEntry(name=name, metric="time_s",
                              run_values=tuple(float(v) for v in medians[b, -11:-1]),
                              samples=samples(medians[b, -2]))
                for b, name in enumerate(names)))
    comparison = None
    if with_comparison and baseline is not None:
        results = []
        for b, name in enumerate(names):
            ratio = float(factor[b, -1] * noise[b, -1])
            verdict = (Verdict.REGRESSION if b == 0 else Verdict.IMPROVEMENT if b == 1
                       else Verdict.INCONCLUSIVE if b == 3 else Verdict.UNCHANGED)
            p = 1e-6 if b < 2 else 0.4
            results.append(BenchmarkComparison(name=name, metric="time_s", comparison=Comparison(
                verdict=verdict, ratio=ratio, ci_low=ratio * 0.95, ci_high=ratio * 1.05,
                p_value=p, significant=b < 2, threshold=1.2, alpha=0.01,
                n_baseline=10, n_current=n_samples, method="run-level Welch on log medians",
                reason="too noisy" if b == 3 else "", samples_needed=40 if b == 3 else None,
                adjusted_p_value=min(1.0, p * n_benchmarks))))
        comparison = SuiteComparison(results=tuple(results), correction="holm", alpha=0.01,
                                     new=("test_brand_new",), missing=("test_gone|x",),
                                     failed=(XSS_NAME + "_failed",) if hostile else ())
    return ReportData(title="perf_pipeline synthetic report",
                      generated_at="2025-01-21T09:00:00Z", current=current, baseline=baseline,
                      comparison=comparison, runs=tuple(runs), series=tuple(series),
                      environment_differences=(("python_version", "3.11.9", "3.11.10"),)
                      if hostile else (),
                      notes=("Synthetic data for tests.",))


def with_memory_regression(data: ReportData) -> tuple[ReportData, str]:
    """``data`` where the benchmark whose time improved (ratio ~0.7) also regressed in
    peak RSS: its worst verdict is a regression that time did not earn. Returns the data
    and that benchmark's name."""
    comp = data.comparison
    assert comp is not None
    improved = next(r for r in comp.results
                    if r.metric == "time_s" and r.comparison.verdict == Verdict.IMPROVEMENT)
    mem = BenchmarkComparison(name=improved.name, metric="peak_rss_bytes",
                              comparison=Comparison(
                                  verdict=Verdict.REGRESSION, ratio=1.25, ci_low=1.2,
                                  ci_high=1.3, p_value=1e-6, significant=True, threshold=1.1,
                                  alpha=0.01, n_baseline=10, n_current=15, method="synthetic"))
    comp = dataclasses.replace(comp, results=(*comp.results, mem))
    return dataclasses.replace(data, comparison=comp), improved.name


def with_suite_shift(data: ReportData, *, ratio: float = 1.5) -> ReportData:
    """``data`` whose comparison begins with the suite-wide shift's row (the whole suite
    ``ratio`` slower): the most interesting entry, and no benchmark."""
    comp = data.comparison
    assert comp is not None
    first = comp.results[0]
    shift = dataclasses.replace(first, name=SUITE_SHIFT_NAME, comparison=dataclasses.replace(
        first.comparison, ratio=ratio, ci_low=ratio * 0.97, ci_high=ratio * 1.03,
        method="suite-wide shift (median over benchmarks) vs baseline runs' machine factors"))
    return dataclasses.replace(data, comparison=dataclasses.replace(
        comp, results=(shift, *comp.results)))
