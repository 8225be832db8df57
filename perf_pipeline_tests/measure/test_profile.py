"""What a failed ``measure_profiles`` points the user to: a folder that holds files, or none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import MeasurementError
from perf_pipeline.measure import measure_profiles
from perf_pipeline_tests.measure.conftest import commit_files
from perf_pipeline_tests.pipeline.profile_target import build_profile_target


def _settings(repo: Path, results: Path) -> Settings:
    return Settings(repo_path=repo, project_subdir="proj", benchmark_paths=("tests",),
                    results_dir=results, suite_timeout_s=180.0,
                    pytest_args=("--benchmark-min-rounds=3", "--benchmark-max-time=0.02"))


def _named_folders(message: str) -> list[Path]:
    return [Path(m) for m in re.findall(r"files (?:kept )?in ([^;)\s]+)", message)]


@pytest.mark.slow
def test_a_failed_profile_names_only_a_folder_that_holds_its_files(tmp_path: Path) -> None:
    """"no benchmark ran at either commit ...; files in <dir>" named a folder that was
    empty (and left it behind); a process failing at collection said "files kept in
    <dir>" of a folder that was never made."""
    repo, base, candidate = build_profile_target(tmp_path)
    broken = commit_files(repo, {"proj/tests/test_perf.py": "import no_such_module_here\n"},
                          "tests that do not import")
    settings = _settings(repo, tmp_path / "results")
    profiles = tmp_path / "results" / "raw" / "profile"

    with pytest.raises(MeasurementError, match="no benchmark ran at either commit") as info:
        measure_profiles(settings, base, candidate, repeats=1, min_s=0.02,
                         keyword="test_nothing_like_it")
    assert _named_folders(str(info.value)) == []
    assert "no profile file was written" in str(info.value)
    assert not [d for d in profiles.iterdir() if not any(d.rglob("*.json"))]

    with pytest.raises(MeasurementError, match="failed") as info:
        measure_profiles(settings, candidate, broken, repeats=1, min_s=0.02)
    [folder] = _named_folders(str(info.value))
    assert folder.is_dir() and any(p.is_file() for p in folder.rglob("*")), folder


@pytest.mark.slow
def test_a_benchmark_path_added_later_is_left_out_at_older_commits(tmp_path: Path) -> None:
    """``run`` leaves out a path of ``benchmark_paths`` a commit does not have yet but
    HEAD has; ``profile`` of two older commits passed it to pytest: "profiling ...
    failed: pytest exited with code 4" (file or directory not found)."""
    repo, base, candidate = build_profile_target(tmp_path)
    commit_files(repo, {"proj/tests/test_new.py": "def test_new(benchmark):\n"
                        "    benchmark(sum, range(50))\n"}, "a new benchmark file")
    settings = Settings(repo_path=repo, project_subdir="proj",
                        benchmark_paths=("tests/test_perf.py", "tests/test_new.py"),
                        results_dir=tmp_path / "results", suite_timeout_s=180.0,
                        pytest_args=("--benchmark-min-rounds=3", "--benchmark-max-time=0.02"))
    run = measure_profiles(settings, base, candidate, repeats=1, min_s=0.02)
    assert run.base_profiles[0] and run.candidate_profiles[0]
    assert not any("test_new" in name for name in run.benchmarks)
