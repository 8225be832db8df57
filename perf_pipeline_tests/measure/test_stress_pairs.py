"""Fresh pairs of stress runs of two commits: real pytest processes in worktrees."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure.stress_pairs import PAIRS_FILE, StressPairs
from perf_pipeline_tests.measure.conftest import commit_files, git

SUITE = textwrap.dedent('''
    import pytest

    import calc

    pytestmark = pytest.mark.stress


    def test_steady(stress):
        stress.closed_loop("steady", calc.handle, workers=1, duration_s=0.1)


    def test_other(stress):
        stress.closed_loop("other", calc.handle, workers=1, duration_s=0.1)
''')
INI = "[pytest]\nmarkers =\n    stress: scaled load\npythonpath = .\n"


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = [commit_files(repo, {"calc.py": "def handle():\n    return 1\n",
                                "tests/test_stress.py": SUITE, "pytest.ini": INI}, "one"),
            commit_files(repo, {"calc.py": "def handle():\n    return 2\n"}, "two"),
            commit_files(repo, {"calc.py": "raise ImportError('broken')\n"}, "broken")]
    return repo, shas


def _settings(repo: Path, tmp_path: Path) -> Settings:
    return Settings(repo_path=repo, project_subdir=".", results_dir=tmp_path / "results",
                    stress_paths=("tests",))


@pytest.mark.slow
def test_each_pair_runs_only_the_named_tests_at_both_commits_and_keeps_them(
        repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, shas = repo
    pairs = StressPairs(_settings(path, tmp_path), shas[0], shas[1],
                        ["tests/test_stress.py::test_steady"], multiplier=0.5, seed=3)
    base, candidate = next(pairs)
    for side in (base, candidate):
        assert {f.scenario for f in side} == {"steady"}  # test_other never ran
        assert {f.value for f in side if f.figure == "multiplier"} == {0.5}  # the run's
    next(pairs)
    lines = [json.loads(line) for line in (pairs.raw_dir / PAIRS_FILE).read_text().splitlines()]
    assert [line["pair"] for line in lines] == [0, 1]
    assert all(sorted(line["order"]) == ["base", "candidate"] for line in lines)
    kept = sorted((pairs.raw_dir / "pair-000-base" / "stress").glob("*.stress.json"))
    assert len(kept) == 1 and not os.stat(kept[0]).st_mode & stat.S_IWUSR  # read-only
    assert pairs.raw_dir.parent == tmp_path / "results" / "raw" / "stress-confirm"


@pytest.mark.slow
def test_a_side_that_measures_nothing_ends_the_pairs_with_its_error(
        repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, shas = repo
    pairs = StressPairs(_settings(path, tmp_path), shas[0], shas[2],
                        ["tests/test_stress.py::test_steady"], seed=1)
    with pytest.raises(MeasurementError, match="pair 0, candidate side"):
        next(pairs)
    assert (pairs.raw_dir / PAIRS_FILE).is_file()  # the failed pair is on record


def test_test_ids_that_pytest_would_read_as_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="must not start with '-'"):
        StressPairs(Settings(results_dir=tmp_path), "a" * 40, "b" * 40, ["-p evil"])
    with pytest.raises(InvalidInputError, match="at least one test"):
        StressPairs(Settings(results_dir=tmp_path), "a" * 40, "b" * 40, [])
