"""regression_profile: a no-op without regressions; profiles the regressed benchmarks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.profile import regression_profile
from perf_pipeline.defs.resources import TargetRepoResource
from perf_pipeline.model import (
    BenchmarkComparison,
    CommitAnalysis,
    Comparison,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.pipeline import analysis_path, read_commit_profile
from perf_pipeline.store import write_analysis
from perf_pipeline_tests.pipeline.profile_target import build_profile_target

BENCH = "tests/test_perf.py::test_pipeline"


def _target(repo: Path, results: Path) -> TargetRepoResource:
    return TargetRepoResource(repo_path=str(repo), project_subdir="proj",
                              results_dir=str(results), benchmark_paths=["tests"],
                              pytest_args=["--benchmark-min-rounds=3"])


def _analysis(sha: str, base: str, *, regressed: bool) -> CommitAnalysis:
    verdict = Verdict.REGRESSION if regressed else Verdict.UNCHANGED
    comparison = Comparison(verdict=verdict, ratio=40.0, ci_low=30.0, ci_high=50.0,
                            p_value=1e-6, significant=regressed, threshold=1.2, alpha=0.01,
                            n_baseline=3, n_current=3, method="test")
    return CommitAnalysis(
        run_id="r1", sha=sha, created_at="2026-01-01T00:00:00+00:00", threshold=1.2,
        alpha=0.01, baseline_commits=(base,),
        comparison=SuiteComparison(results=(BenchmarkComparison(BENCH, "time_s", comparison),),
                                   correction="holm", alpha=0.01))


def test_no_regression_is_a_cheap_no_op(tmp_path: Path) -> None:
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    write_analysis(analysis_path(target.settings(), candidate),
                   _analysis(candidate, base, regressed=False))
    result = regression_profile(dg.build_asset_context(partition_key=candidate), target=target)
    assert result.metadata["status"].value == "skipped"
    assert "no regression" in str(result.metadata["reason"].value)
    assert not (tmp_path / "results" / "raw").exists()


def test_missing_analysis_is_a_clear_failure(tmp_path: Path) -> None:
    repo, _, candidate = build_profile_target(tmp_path)
    with pytest.raises(dg.Failure, match="no regression analysis"):
        regression_profile(dg.build_asset_context(partition_key=candidate),
                           target=_target(repo, tmp_path / "results"))


@pytest.mark.slow
def test_regression_is_profiled_and_the_commit_report_shows_it(tmp_path: Path) -> None:
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    settings = target.settings()
    write_analysis(analysis_path(settings, candidate), _analysis(candidate, base, regressed=True))
    result = regression_profile(dg.build_asset_context(partition_key=candidate), target=target)
    assert result.metadata["status"].value == "profiled"
    assert "\\_unique\\_slow" in str(result.metadata["where_the_time_went"].value)
    assert any(key.endswith(".prof") for key in result.metadata)
    saved = read_commit_profile(settings, candidate)
    assert saved is not None and saved.diffs[0].benchmark == BENCH
    assert saved.diffs[0].functions[0].key == "proj/mod.py:_unique_slow"
