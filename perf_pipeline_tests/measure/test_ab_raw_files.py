"""The A/B's raw files on a disk that refuses them: an error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import StoreError
from perf_pipeline.measure import ab, ab_rounds
from perf_pipeline.measure.runner import SuiteOutcome
from perf_pipeline.model import CommitInfo
from perf_pipeline_tests.measure.conftest import DATA_DIR


def _rounds(tmp_path: Path, raw_dir: Path) -> ab.ABRounds:
    settings = Settings(repo_path=tmp_path, results_dir=tmp_path / "results")
    return ab.ABRounds(settings=settings, ab_id="ab1", seed=1,
                       base=CommitInfo(sha="a" * 40), candidate=CommitInfo(sha="b" * 40),
                       raw_dir=raw_dir, selection=ab.ABSelection(), max_rounds=1,
                       budget_s=None)


def test_a_round_file_that_cannot_be_written_is_a_store_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (or a read-only raw/ab/) after a side was measured raised a bare
    ``OSError``: ``perf-pipeline ab`` (and ``analyze``'s confirmation) exited 3,
    "internal error (a bug in perf_pipeline)", and the manifest write in ``finally``
    failed the same way."""
    def measured(settings: Settings, sha: str, suite: str, json_path: Path,
                 *args: object, **kwargs: object) -> SuiteOutcome:
        json_path.write_bytes((DATA_DIR / "pytest_benchmark_good.json").read_bytes())
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=1.0, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(ab_rounds, "run_in_worktree", measured)
    blocked = tmp_path / "raw-ab"
    blocked.write_text("a file where the A/B's folder should be")
    rounds = _rounds(tmp_path, blocked)
    with pytest.raises(StoreError, match=r"A/B raw file .*raw-ab.*round-001-base"):
        rounds._measure_side(tmp_path, 1, "base", "a" * 40, rounds.base, ())
    with pytest.raises(StoreError, match=r"A/B raw file .*raw-ab.ab\.json"):
        rounds.close()
