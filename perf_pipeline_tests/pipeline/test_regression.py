"""The product's stored-baseline comparison is the studies' screen, not a near copy."""

from __future__ import annotations

import numpy as np
import pytest

from perf_pipeline.analysis import SCREEN_ALPHA, build_baseline, screen_run
from perf_pipeline.config import Settings
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun, Verdict
from perf_pipeline.pipeline.regression import analyze_run

NAMES = tuple(f"tests/test_perf.py::test_{j}" for j in range(8))


def _run(i: int, scale: list[float], rng: np.random.Generator) -> SuiteRun:
    benchmarks = tuple(
        BenchmarkResult(name=name, samples_s=tuple(
            1e-3 * scale[j] * np.exp(rng.normal(0, 0.01, 20)) * np.exp(rng.normal(0, 0.01))))
        for j, name in enumerate(NAMES))
    return SuiteRun(run_id=f"run{i}", suite="benchmarks",
                    started_at=f"2024-01-{i + 1:02d}T00:00:00+00:00",
                    status=RunStatus.SUCCESS, benchmarks=benchmarks,
                    commit=CommitInfo(sha=f"{i:040x}"))


@pytest.fixture
def shift_only_slowdown() -> tuple:
    """Seven of eight benchmarks 15 % faster, one unchanged: relative to the suite-wide
    shift that one is slower, though its own time did not move."""
    rng = np.random.default_rng(0)
    baseline = build_baseline([_run(i, [1.0] * 8, rng) for i in range(10)],
                              created_at="2024-02-01T00:00:00+00:00", policy="rolling")
    return baseline, _run(20, [1.0] + [0.85] * 7, rng)


def test_the_screen_is_screen_run(shift_only_slowdown: tuple) -> None:
    baseline, run = shift_only_slowdown
    settings = Settings(threshold=1.05)
    product = analyze_run(run, baseline, settings, screen=True)
    study = screen_run(baseline, run, threshold=1.05, metrics=settings.gate_metrics)
    assert product.alpha == SCREEN_ALPHA
    assert product.comparison is not None
    assert [(r.name, r.metric, r.comparison.verdict) for r in product.comparison.results] == [
        (r.name, r.metric, r.comparison.verdict) for r in study.results]
    # The change only the shift shows is flagged, so the A/B gets to confirm it.
    verdicts = {r.name: r.comparison.verdict for r in product.comparison.results
                if r.metric == "time_s"}
    assert verdicts[NAMES[0]] is Verdict.REGRESSION


def test_the_one_stage_gate_wants_the_raw_change_too(shift_only_slowdown: tuple) -> None:
    baseline, run = shift_only_slowdown
    analysis = analyze_run(run, baseline, Settings(threshold=1.05))
    assert analysis.alpha == Settings().alpha and analysis.comparison is not None
    verdicts = {r.name: r.comparison.verdict for r in analysis.comparison.results
                if r.metric == "time_s"}
    assert verdicts[NAMES[0]] is not Verdict.REGRESSION


def test_judging_a_commit_whose_measuring_was_killed_before_storing_finds_its_run(
        tmp_path) -> None:
    """benchmark_results SIGKILLed between writing the raw run dir and storing the run:
    materializing regression_analysis again said "no successful benchmark run" although
    the run was measured and on disk."""
    from pathlib import Path

    from perf_pipeline.measure import write_raw_run
    from perf_pipeline.pipeline.regression import commit_run
    from perf_pipeline.workspace import Workspace

    data = Path(__file__).resolve().parents[1] / "data" / "pytest_benchmark_good.json"
    sha = "e" * 40
    settings = Settings(results_dir=tmp_path / "results")
    write_raw_run(settings.raw_dir, {"run_id": "20240101T000000Z-0000000e",
                                     "suite": "benchmarks", "status": "success",
                                     "commit": {"sha": sha},
                                     "started_at": "2024-01-01T00:00:00+00:00"},
                  benchmark_json=data)
    with Workspace(settings) as ws:
        run = commit_run(ws, sha)
        assert run.sha == sha and run.benchmarks
        assert ws.store.has_run("20240101T000000Z-0000000e")
