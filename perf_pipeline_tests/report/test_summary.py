"""The headline every report format leads with (``report/summary.py``)."""

from __future__ import annotations

import dataclasses

from perf_pipeline.model import ReportData, RunStatus, SuiteRun, Verdict
from perf_pipeline.report import render_html, render_markdown
from perf_pipeline.report.summary import summarize
from perf_pipeline_tests.report.synthetic import make_report_data, with_suite_shift


def _nothing_compared() -> ReportData:
    """Every benchmark renamed: a baseline and a current run, and not one pair."""
    data = make_report_data(hostile=False)
    assert data.current is not None and data.comparison is not None
    names = tuple(b.name for b in data.current.benchmarks)
    comp = dataclasses.replace(data.comparison, results=(), new=names,
                               missing=tuple(n + "_old" for n in names), failed=())
    return dataclasses.replace(data, comparison=comp)


def test_nothing_compared_is_not_a_pass() -> None:
    summary = summarize(_nothing_compared())
    assert summary.status == "no-comparison"
    assert summary.headline.startswith("ℹ️ No benchmark could be compared at ")
    assert summary.headline.endswith(": 6 new, 6 missing")
    assert "No significant regression" not in summary.headline


def test_every_format_leads_with_the_same_headline() -> None:
    data = _nothing_compared()
    text = summarize(data).headline.removeprefix("ℹ️ ")
    assert text in render_markdown(data).splitlines()[1]  # also the PR comment's body
    assert text in render_html(data, inline_js=False)


def test_failed_benchmarks_are_counted_beside_a_pass() -> None:
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    kept = tuple(dataclasses.replace(r, comparison=dataclasses.replace(
        r.comparison, verdict=Verdict.UNCHANGED)) for r in comp.results[:2])
    data = dataclasses.replace(data, comparison=dataclasses.replace(
        comp, results=kept, new=(), missing=(),
        failed=tuple(r.name for r in comp.results[2:6])))
    summary = summarize(data)
    assert summary.status == "ok"
    assert summary.headline.startswith("✅ No significant regression (of 6 benchmarks, "
                                       "2 comparisons)")
    assert summary.headline.endswith("; 4 failed")


def test_failed_run_keeps_its_error_after_a_blank_first_line() -> None:
    data = dataclasses.replace(make_report_data(hostile=False), current=SuiteRun(
        run_id="r", suite="benchmarks", started_at="2025-01-01T00:00:00Z",
        status=RunStatus.FAILED, error="\n  \nImportError: cannot import name 'fast_path'\n"))
    summary = summarize(data)
    assert summary.status == "failed"
    assert summary.headline == ("💥 Benchmark run of 2025-01-01T00:00:00 failed: "
                                "ImportError: cannot import name 'fast_path'")


def _with_undecided_row(unit: str) -> tuple[ReportData, int]:
    """The synthetic data with its inconclusive row as ``judge`` words one measured in
    ``unit`` (A/B rounds, runs of this commit)."""
    from perf_pipeline.analysis.verdict import Estimate, judge

    est = Estimate(log_ratio=0.15, log_ci_low=-0.05, log_ci_high=0.35, p_value=0.2,
                   n_baseline=10, n_current=1, method="m", n_units=5, unit=unit,
                   var_scalable=0.01)
    comparison = judge(est, threshold=1.2, alpha=0.01, adjusted_p=0.4)
    assert comparison.verdict is Verdict.INCONCLUSIVE and comparison.samples_needed
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    name = next(r.name for r in comp.results if r.comparison.verdict is Verdict.INCONCLUSIVE)
    results = tuple(dataclasses.replace(r, comparison=comparison) if r.name == name else r
                    for r in comp.results)
    return (dataclasses.replace(data, comparison=dataclasses.replace(comp, results=results)),
            comparison.samples_needed)


def test_inconclusive_rows_say_what_more_would_decide_in_its_own_unit() -> None:
    for unit in ("rounds", "runs of this commit"):
        data, n = _with_undecided_row(unit)
        md = render_markdown(data)
        assert "More samples" not in md
        assert f"| {n} {unit} |" in md
        page = render_html(data, inline_js=False)
        assert f"about {n} more {unit} would decide" in page
        assert "samples would decide" not in page
        assert page.count(f"{n} more") == 1  # said once, not twice


def test_a_baseline_of_runs_without_commits_is_named_by_when_they_ran() -> None:
    # Plain pytest-benchmark files have no commit: the headline read "vs baseline rolling
    # baseline of <when the baseline file was written>", a time after the judged run.
    data = make_report_data(hostile=False)
    assert data.baseline is not None and data.current is not None
    runs = tuple(dataclasses.replace(r, commit=None) for r in data.runs)
    baseline = dataclasses.replace(data.baseline, source_commits=(),
                                   created_at="2030-01-01T00:00:00Z")
    current = dataclasses.replace(data.current, commit=None)
    summary = summarize(dataclasses.replace(data, runs=runs, baseline=baseline,
                                            current=current))
    first, last = runs[0].started_at[:19], runs[-2].started_at[:19]
    assert f"vs baseline 9 runs of {first} to {last} (rolling)" in summary.headline
    assert "2030" not in summary.headline and "baseline rolling baseline" not in (
        summary.headline)


def test_a_ratio_relative_to_the_suite_shift_carries_the_raw_one() -> None:
    """The whole suite 50 % slower: each benchmark's ratio is relative to the shift, so
    distribution.png drew a plain x1.5 slowdown under "ratio 0.99×". The row carries the
    comparison's raw ratio (once parsed back out of the reason's words), so this goes
    through the real analysis."""
    import numpy as np

    from perf_pipeline.analysis import build_baseline, compare_to_baseline
    from perf_pipeline.model import BenchmarkResult
    from perf_pipeline.report.summary import comparison_rows

    rng = np.random.default_rng(3)
    centers = np.exp(rng.uniform(np.log(1e-5), np.log(1e-1), 12))

    def run(i: int, factor: float) -> SuiteRun:
        noise = 1 + 0.02 * rng.standard_normal(12)
        return SuiteRun(
            run_id=f"r{i}", suite="benchmarks", started_at=f"2025-01-{i + 1:02d}T00:00:00Z",
            status=RunStatus.SUCCESS, benchmarks=tuple(
                BenchmarkResult(name=f"test_{b}", samples_s=tuple(
                    float(x) for x in c * f * (1 + 0.01 * rng.standard_normal(20))))
                for b, (c, f) in enumerate(zip(centers, factor * noise, strict=True))))

    baseline = build_baseline([run(i, 1.0) for i in range(10)], created_at="2025-01-20",
                              metrics=("time_s",))
    comp = compare_to_baseline(baseline, run(10, 1.5), require_raw=False)
    data = dataclasses.replace(make_report_data(hostile=False), comparison=comp,
                               baseline=baseline)
    rows = [r for r in comparison_rows(data) if r.name.startswith("test_")]
    assert rows and all(r.raw_ratio is not None and 1.4 < r.raw_ratio < 1.6 for r in rows)
    assert all(0.9 < r.ratio < 1.1 and r.raw_label.startswith(" (raw 1.") for r in rows)
    assert " (raw 1." in render_markdown(data)  # the PR comment's tables say it too
    for r in comp.results:  # the field and the words agree, to the words' 3 decimals
        raw = r.comparison.raw_ratio
        assert (raw is None) == (r.name == "[suite-wide shift]")
        assert raw is None or f"(raw ratio {raw:.3f})" in r.comparison.reason
    plain = dataclasses.replace(rows[0], raw_ratio=None)
    assert plain.raw_label == ""
    # The label is the field's, not the reason's: words alone show no raw ratio.
    worded = dataclasses.replace(rows[0], raw_ratio=None, reason="x (raw ratio 2.000)")
    assert worded.raw_label == ""
    assert dataclasses.replace(rows[0], reason="").raw_label == rows[0].raw_label


def test_without_a_current_run_the_suite_shift_is_no_benchmark() -> None:
    # Counted from the comparison's rows, the shift's row made 6 benchmarks 7.
    data = dataclasses.replace(with_suite_shift(make_report_data(hostile=False)),
                               current=None)
    summary = summarize(data)
    assert summary.n_benchmarks == 6
    assert "(of 6 benchmarks, 7 comparisons)" in summary.headline
    assert "(of 6 benchmarks, 7 comparisons)" in render_markdown(data).splitlines()[1]
