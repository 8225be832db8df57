"""``analysis/<sha>.json``: a comparison's raw ratio (the suite-wide shift left in) is a
field of its own; a file written before it was kept still reads, its raw ratio taken from
the reason it was written into."""

from __future__ import annotations

import json
import math
from pathlib import Path

from perf_pipeline.model import (
    BenchmarkComparison,
    CommitAnalysis,
    Comparison,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.store import read_analysis, write_analysis

SHIFTED = "10 baseline runs; judged relative to the suite-wide shift +48.0% (raw ratio 1.480)"


def _analysis(*rows: tuple[str, float | None, str]) -> CommitAnalysis:
    results = tuple(BenchmarkComparison(name, "time_s", Comparison(
        verdict=Verdict.UNCHANGED, ratio=0.99, ci_low=0.95, ci_high=1.04, p_value=0.6,
        significant=False, threshold=1.2, alpha=0.01, n_baseline=10, n_current=1,
        method="run-level prediction interval, moderated t, suite shift removed",
        reason=reason, raw_ratio=raw)) for name, raw, reason in rows)
    return CommitAnalysis(run_id="r", sha="a" * 40, created_at="2025-01-01T00:00:00+00:00",
                          threshold=1.2, alpha=0.01, comparison=SuiteComparison(
                              results=results, correction="holm", alpha=0.01))


def _raw_ratios(analysis: CommitAnalysis | None) -> list[float | None]:
    assert analysis is not None and analysis.comparison is not None
    return [r.comparison.raw_ratio for r in analysis.comparison.results]


def test_the_raw_ratio_is_written_and_read_as_a_field(tmp_path: Path) -> None:
    path = write_analysis(tmp_path / "a.json", _analysis(
        ("shifted", 1.4793125, SHIFTED), ("plain", None, "10 baseline runs"),
        # Words are no field: a reason that reads like one does not make a raw ratio.
        ("worded", None, "a user's benchmark note (raw ratio 9.999)"),
        ("huge", math.inf, "raw ratio beyond a float")))
    stored = json.loads(path.read_text())["comparison"]["results"]
    assert [r["comparison"]["raw_ratio"] for r in stored] == [1.4793125, None, None, "inf"]
    assert _raw_ratios(read_analysis(path)) == [1.4793125, None, None, math.inf]


def test_a_file_written_before_the_field_reads_it_from_the_reason(tmp_path: Path) -> None:
    path = write_analysis(tmp_path / "a.json", _analysis(
        ("shifted", 1.4793125, SHIFTED), ("plain", None, "10 baseline runs")))
    old = json.loads(path.read_text())
    for r in old["comparison"]["results"]:
        del r["comparison"]["raw_ratio"]  # as every file of an older perf_pipeline
    path.write_text(json.dumps(old))
    assert _raw_ratios(read_analysis(path)) == [1.48, None]
