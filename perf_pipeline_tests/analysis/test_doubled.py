"""A doubling must never hide behind one wild benchmark of a small suite.

``data/doubled_but_inconclusive.json`` was recorded on a shared 2-core VM: 10 baseline
runs and 1 current run of 5 benchmarks, every sample of ``py_loop`` doubled in the
current run. One benchmark of the suite (``numpy_matmul``) is bimodal: its run medians
jump by a factor of 70 between runs. Its variogram used to be averaged into a drift rate
shared by the whole suite, which widened every benchmark's interval to [0.1, 26] and left
the doubling "inconclusive" (p = 0.29).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_pipeline.analysis import build_baseline, compare_to_baseline
from perf_pipeline.model import BenchmarkResult, RunStatus, SuiteRun, Verdict

DATA = Path(__file__).parents[1] / "data" / "doubled_but_inconclusive.json"


def _run(i: int, samples: dict[str, list[float]], scale: dict[str, float] | None = None
         ) -> SuiteRun:
    scale = scale or {}
    return SuiteRun(
        run_id=f"r{i}", suite="benchmarks", started_at=f"2026-01-01T00:{i:02d}:00+00:00",
        status=RunStatus.SUCCESS,
        benchmarks=tuple(BenchmarkResult(name=k, samples_s=tuple(x * scale.get(k, 1.0)
                                                                 for x in v))
                         for k, v in sorted(samples.items())))


def _recorded() -> tuple[list[SuiteRun], dict[str, list[float]], str]:
    data = json.loads(DATA.read_text())
    return ([_run(i, m) for i, m in enumerate(data["baseline_runs"])], data["current_run"],
            data["slowed"])


def _judge(baseline_runs: list[SuiteRun], current: SuiteRun, name: str):
    baseline = build_baseline(baseline_runs, created_at="2026-01-02T00:00:00+00:00")
    result = compare_to_baseline(baseline, current, threshold=1.0, alpha=0.01)
    return next(r.comparison for r in result.results if r.name == name)


def test_recorded_doubling_is_a_regression() -> None:
    baseline_runs, current, slowed = _recorded()
    comparison = _judge(baseline_runs, _run(99, current), slowed)
    assert comparison.verdict is Verdict.REGRESSION
    assert comparison.ci_low > 1.3
    assert comparison.ci_high / comparison.ci_low < 1.5


def test_undoubled_current_run_is_not_a_regression() -> None:
    baseline_runs, current, slowed = _recorded()
    comparison = _judge(baseline_runs, _run(99, current, {slowed: 0.5}), slowed)
    assert comparison.verdict is not Verdict.REGRESSION


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["json_roundtrip", "py_loop", "sort_list", "sqlite_insert"]),
       k=st.floats(min_value=2.0, max_value=50.0))
def test_slowing_a_benchmark_never_widens_its_interval(name: str, k: float) -> None:
    """Multiplying one benchmark's current samples by k >= 2 never makes its (log)
    interval wider than the same comparison at k = 1, and a doubling or more of a
    benchmark whose baseline is stable is always a regression."""
    baseline_runs, current, slowed = _recorded()
    undoubled = {slowed: 0.5}
    at_one = _judge(baseline_runs, _run(99, current, undoubled), name)
    at_k = _judge(baseline_runs, _run(99, current, {**undoubled, name: k * (
        0.5 if name == slowed else 1.0)}), name)
    width_one = math.log(at_one.ci_high) - math.log(at_one.ci_low)
    width_k = math.log(at_k.ci_high) - math.log(at_k.ci_low)
    assert width_k <= width_one + 1e-9
    assert at_k.verdict is Verdict.REGRESSION


def test_one_wild_benchmark_does_not_widen_the_others() -> None:
    """The bimodal benchmark's own interval is wide; the others' stay near their spread."""
    baseline_runs, current, _ = _recorded()
    baseline = build_baseline(baseline_runs, created_at="2026-01-02T00:00:00+00:00")
    result = compare_to_baseline(baseline, _run(99, current), threshold=1.0, alpha=0.01)
    widths = {r.name: math.log(r.comparison.ci_high / r.comparison.ci_low)
              for r in result.results}
    assert widths["numpy_matmul"] > 2.0
    assert max(widths[n] for n in ("json_roundtrip", "py_loop", "sort_list",
                                    "sqlite_insert")) < 0.5
    assert np.isfinite(list(widths.values())).all()
