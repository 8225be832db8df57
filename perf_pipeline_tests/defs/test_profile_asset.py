"""regression_profile: profiles what the confirmation confirmed; a no-op otherwise."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.profile import regression_profile
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.model import (
    BenchmarkComparison,
    CommitAnalysis,
    Comparison,
    Confirmation,
    ProfileComparison,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.pipeline import read_commit_profile
from perf_pipeline.store import write_analysis, write_confirmation, write_profile_comparison
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.profile_target import build_profile_target

BENCH = "tests/test_perf.py::test_pipeline"


def _target(repo: Path, results: Path, **settings: str) -> WorkspaceResource:
    return WorkspaceResource(repo_path=str(repo), project_subdir="proj",
                              results_dir=str(results), benchmark_paths=["tests"],
                              pytest_args=["--benchmark-min-rounds=3"], **settings)


def _suite(regressed: bool) -> SuiteComparison:
    verdict = Verdict.REGRESSION if regressed else Verdict.UNCHANGED
    comparison = Comparison(verdict=verdict, ratio=40.0, ci_low=30.0, ci_high=50.0,
                            p_value=1e-6, significant=regressed, threshold=1.2, alpha=0.01,
                            n_baseline=3, n_current=3, method="test")
    return SuiteComparison(results=(BenchmarkComparison(BENCH, "time_s", comparison),),
                           correction="holm", alpha=0.01)


def _analysis(sha: str, base: str, *, regressed: bool, run_id: str = "r1") -> CommitAnalysis:
    return CommitAnalysis(
        run_id=run_id, sha=sha, created_at="2026-01-01T00:00:00+00:00", threshold=1.2,
        alpha=0.01, baseline_commits=(base,), comparison=_suite(regressed))


def _confirmation(sha: str, base: str | None, *, confirmed: bool,
                  run_id: str = "r1") -> Confirmation:
    """The screen flagged the benchmark; the A/B confirmed it, or cleared it."""
    return Confirmation(sha=sha, run_id=run_id, created_at="2026-01-01T00:01:00+00:00",
                        status="confirmed", screen_alpha=0.1, screen=_suite(True),
                        final=_suite(confirmed), base_sha=base, flagged=(BENCH,),
                        rounds_used=6, max_rounds=20)


def _write(target: WorkspaceResource, sha: str, base: str, *, screened: bool,
           confirmed: bool) -> None:
    settings = target.settings()
    write_analysis(settings.layout.analysis_path(sha), _analysis(sha, base, regressed=screened))
    write_confirmation(settings.layout.confirmation_path(sha),
                       _confirmation(sha, base, confirmed=confirmed))


def test_no_regression_is_a_cheap_no_op(tmp_path: Path) -> None:
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    _write(target, candidate, base, screened=False, confirmed=False)
    result = regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)
    assert result.metadata["status"].value == "skipped"
    assert "no confirmed regression" in str(result.metadata["reason"].value)
    assert not (tmp_path / "results" / "raw").exists()


def test_a_flag_the_confirmation_cleared_is_not_profiled(tmp_path: Path) -> None:
    """The screen's regression is what the A/B cleared: nothing to profile, and an earlier
    profile of the commit is removed so that the report cannot show it."""
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    settings = target.settings()
    _write(target, candidate, base, screened=True, confirmed=False)
    stale = ProfileComparison(profile_id="old", base_sha=base, candidate_sha=candidate,
                              created_at="2025-12-31T00:00:00+00:00", diffs=())
    write_profile_comparison(settings.layout.commit_profile_path(candidate), stale)
    result = regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)
    assert result.metadata["status"].value == "skipped"
    assert "no confirmed regression" in str(result.metadata["reason"].value)
    assert read_commit_profile(Workspace(settings), candidate) is None
    assert not (tmp_path / "results" / "raw").exists()


def test_profiling_off_skips_a_confirmed_regression(tmp_path: Path) -> None:
    """``profile = "off"``: a gate that only has to pass or fail runs no profile."""
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results", profile="off")
    _write(target, candidate, base, screened=True, confirmed=True)
    result = regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)
    assert result.metadata["status"].value == "skipped"
    assert 'profile = "off"' in str(result.metadata["reason"].value)
    assert read_commit_profile(Workspace(target.settings()), candidate) is None
    assert not (tmp_path / "results" / "raw").exists()


def test_profiling_off_skips_even_without_a_confirmation(tmp_path: Path) -> None:
    """With ``profile = "off"`` a commit whose confirmation was never written (it failed,
    or a run selected the profile alone) failed ``regression_profile``, which has
    nothing to do."""
    target = _target(tmp_path, tmp_path / "results", profile="off")
    result = regression_profile(dg.build_asset_context(partition_key="c" * 40),
                                workspace=target)
    assert result.metadata["status"].value == "skipped"
    assert 'profile = "off"' in str(result.metadata["reason"].value)


def test_missing_confirmation_is_a_clear_failure(tmp_path: Path) -> None:
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    with pytest.raises(dg.Failure, match="materialize regression_confirmation"):
        regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)
    # A confirmation of an older run than the latest analysis is no confirmation either.
    settings = target.settings()
    write_analysis(settings.layout.analysis_path(candidate),
                   _analysis(candidate, base, regressed=True, run_id="r2"))
    write_confirmation(settings.layout.confirmation_path(candidate),
                       _confirmation(candidate, base, confirmed=True, run_id="r1"))
    with pytest.raises(dg.Failure, match="no confirmation of its latest"):
        regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)


def test_a_failure_while_profiling_is_metadata_not_a_failed_asset(tmp_path: Path) -> None:
    """The report downstream must still be written (and the gate fail) when profiling
    fails, so the asset reports it instead of raising."""
    repo, _, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    _write(target, candidate, "0" * 40, screened=True, confirmed=True)  # unknown base commit
    result = regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)
    assert result.metadata["status"].value == "failed"
    assert "profiling failed" in str(result.metadata["error"].value)
    assert read_commit_profile(target.open(), candidate) is None


@pytest.mark.slow
def test_confirmed_regression_is_profiled_against_the_ab_base(tmp_path: Path) -> None:
    repo, base, candidate = build_profile_target(tmp_path)
    target = _target(repo, tmp_path / "results")
    settings = target.settings()
    # The baseline's commits say nothing useful; the confirmation's base is what counts.
    write_analysis(settings.layout.analysis_path(candidate),
                   _analysis(candidate, candidate, regressed=True))
    write_confirmation(settings.layout.confirmation_path(candidate),
                       _confirmation(candidate, base, confirmed=True))
    result = regression_profile(dg.build_asset_context(partition_key=candidate), workspace=target)
    assert result.metadata["status"].value == "profiled"
    assert result.metadata["base_commit"].value == base
    assert "\\_unique\\_slow" in str(result.metadata["where_the_time_went"].value)
    assert any(key.endswith(".prof") for key in result.metadata)
    saved = read_commit_profile(Workspace(settings), candidate)
    assert saved is not None and saved.diffs[0].benchmark == BENCH
    assert saved.diffs[0].functions[0].key == "proj/mod.py:_unique_slow"
