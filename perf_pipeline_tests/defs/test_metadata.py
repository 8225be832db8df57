"""The Dagster metadata of a run and of its analysis: one float per benchmark under a key
of its own (the UI plots them across partitions), times in the report's units."""

from __future__ import annotations

import subprocess
import sys

from perf_pipeline.defs.analysis import screen_check_result
from perf_pipeline.defs.metadata import analysis_metadata, run_metadata
from perf_pipeline.model import (
    BenchmarkComparison,
    BenchmarkResult,
    CommitAnalysis,
    CommitInfo,
    Comparison,
    RunStatus,
    SuiteComparison,
    SuiteRun,
    Verdict,
)

#: pytest allows it: the node ids differ by path.
IO, PARSE = "tests/test_io.py::test_speed", "tests/test_parse.py::test_speed"
OTHER = "tests/test_io.py::TestX::test_other"


def _run() -> SuiteRun:
    return SuiteRun(run_id="r1", suite="benchmarks", started_at="2025-01-01T00:00:00Z",
                    status=RunStatus.SUCCESS, commit=CommitInfo(sha="a" * 40),
                    benchmarks=(BenchmarkResult(name=IO, samples_s=(1.0e-3,) * 5),
                                BenchmarkResult(name=PARSE, samples_s=(4.2e-7,) * 5),
                                BenchmarkResult(name=OTHER, samples_s=(2.5,) * 5)))


def _row(name: str, ratio: float, verdict: Verdict) -> BenchmarkComparison:
    return BenchmarkComparison(name, "time_s", Comparison(
        verdict=verdict, ratio=ratio, ci_low=ratio * 0.9, ci_high=ratio * 1.1, p_value=1e-4,
        significant=verdict is not Verdict.UNCHANGED, threshold=1.2, alpha=0.01,
        n_baseline=10, n_current=3, method="m"))


def _analysis() -> CommitAnalysis:
    comparison = SuiteComparison(results=(_row(IO, 2.0, Verdict.REGRESSION),
                                          _row(PARSE, 1.0, Verdict.UNCHANGED),
                                          _row(OTHER, 1.01, Verdict.UNCHANGED)),
                                 correction="holm", alpha=0.01)
    return CommitAnalysis(run_id="r1", sha="a" * 40, created_at="2025-01-01T00:00:00Z",
                          threshold=1.2, alpha=0.01, comparison=comparison,
                          baseline_run_ids=("r0",))


def test_two_tests_of_the_same_name_keep_their_own_median_and_unit() -> None:
    """Keyed by the short name, the second ``test_speed`` overwrote the first; and the
    table wrote every median in ms, a 420 ns one as ``0.000 ms``."""
    meta = run_metadata(_run())
    floats = {k: v.value for k, v in meta.items() if k.startswith("median_s/")}
    assert floats == {"median_s/test_io.py::test_speed": 1.0e-3,
                      "median_s/test_parse.py::test_speed": 4.2e-7,
                      "median_s/TestX::test_other": 2.5}  # no collision: stays short
    table = meta["medians"].value
    assert "| `test_parse.py::test_speed` | 420 ns | 5 |" in table
    assert "| `test_io.py::test_speed` | 1.00 ms | 5 |" in table
    assert "| `TestX::test_other` | 2.50 s | 5 |" in table and "0.000 ms" not in table


def test_a_regression_keeps_its_ratio_beside_the_same_test_of_another_file() -> None:
    """The x2.0 regression's ``ratio/test_speed`` was overwritten by the other file's 1.0,
    so the UI's plot showed nothing where the regression was."""
    meta = analysis_metadata(_analysis())
    ratios = {k: v.value for k, v in meta.items() if k.startswith("ratio/")}
    assert ratios == {"ratio/test_io.py::test_speed": 2.0,
                      "ratio/test_parse.py::test_speed": 1.0,
                      "ratio/TestX::test_other": 1.01}
    assert "`test_io.py::test_speed`" in meta["verdict"].value
    check = screen_check_result("a" * 40, _analysis())
    assert "test_io.py::test_speed (time_s) x2.00" in check.description


def test_loading_the_definitions_imports_no_plotting_or_statistics() -> None:
    """`dagster dev`, every run worker and sensor process load the definitions: the
    report stack (matplotlib, jinja2) and scipy/plotly load in asset bodies only.
    Importing ``perf_pipeline.report.labels`` at the top of defs/metadata.py ran the
    report package's ``__init__`` and loaded matplotlib in every one of them. Nor pandas
    and numpy: sqlite_utils imports pandas whenever it is installed (0.3 s), and the
    store imported sqlite_utils at its top, though loading the definitions opens no
    history."""
    code = ("import sys, perf_pipeline.definitions as d; d.defs(); print(sorted(m for m in "
            "('matplotlib', 'scipy', 'plotly', 'jinja2', 'pandas', 'numpy', 'sqlite_utils') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
