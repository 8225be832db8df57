"""Back-filling first-parent ordinals of stored runs from the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.measure import backfill_ancestry_ordinals, commit_info
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore

from .conftest import git


def _stored(store: HistoryStore, repo: Path | None, sha: str, i: int) -> None:
    """A run of ``sha`` as a history written before ordinals holds it (none)."""
    commit = (commit_info(repo, sha, branch="main") if repo is not None
              else CommitInfo(sha=sha, branch="main", committed_at="2024-01-01T00:00:00+00:00"))
    store.ingest_run(SuiteRun(
        run_id=f"run-{i}", suite="benchmarks", started_at=f"2024-06-01T0{i}:00:00+00:00",
        status=RunStatus.SUCCESS, commit=commit, duration_s=1.0, machine_id="m1",
        benchmarks=(BenchmarkResult(name="t", samples_s=(0.1, 0.2)),)))


def test_runs_without_an_ordinal_get_it_from_the_repo(target_repo: Path,
                                                      tmp_path: Path) -> None:
    shas = git(target_repo, "rev-list", "--reverse", "HEAD").split()
    foreign = "ab" * 20  # a commit of another repository keeps none
    with HistoryStore.open(tmp_path / "h.db") as store:
        for i, sha in enumerate(shas):
            _stored(store, target_repo, sha, i)
        _stored(store, None, foreign, 7)
        assert backfill_ancestry_ordinals(tmp_path / "not-a-repo", store) == 0
        assert backfill_ancestry_ordinals(target_repo, store) == 3
        assert {r.commit.sha: r.commit.ancestry_ordinal  # type: ignore[union-attr]
                for r in store.list_runs()} == {shas[0]: 1, shas[1]: 2, shas[2]: 3,
                                                foreign: None}
        assert store.commits_without_ordinal() == (foreign,)
        assert backfill_ancestry_ordinals(target_repo, store) == 0


def test_a_shallow_clone_records_no_ordinal(target_repo: Path, tmp_path: Path) -> None:
    """Its first-parent counts stop at the cut: the tip of a depth-1 clone counts 1."""
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{target_repo}", str(shallow))
    tip = git(shallow, "rev-parse", "HEAD")
    with HistoryStore.open(tmp_path / "h.db") as store:
        _stored(store, shallow, tip, 0)
        assert backfill_ancestry_ordinals(shallow, store) == 0
        assert store.commits_without_ordinal() == (tip,)
        assert backfill_ancestry_ordinals(target_repo, store) == 1


def test_no_git_on_the_machine_backfills_nothing_and_does_not_fail(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that only ingests and judges result files (a slim container): ``ingest``
    and ``analyze`` stored the runs, then ended with "cannot run git" (exit 2)."""
    with HistoryStore.open(tmp_path / "h.db") as store:
        _stored(store, None, "ab" * 20, 1)
        monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
        assert backfill_ancestry_ordinals(tmp_path, store) == 0
        assert store.commits_without_ordinal() == ("ab" * 20,)


def test_a_branch_of_commits_is_back_filled_in_a_fixed_number_of_git_calls(
        target_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two git calls per commit, each walking the whole first-parent chain: the first
    ingest after the upgrade of a history of 2,000 commits made 4,000 of them. One
    chain listing places every commit on it, with the same count git gives."""
    from perf_pipeline.measure import ancestry
    from perf_pipeline.measure import git as git_module

    shas = git(target_repo, "rev-list", "--reverse", "HEAD").split()
    calls: list[list[str]] = []
    run_git = git_module.run_git

    def counting(repo: Path, args: list[str], **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(list(args))
        return run_git(repo, args, **kwargs)  # type: ignore[arg-type]

    with HistoryStore.open(tmp_path / "h.db") as store:
        for i, sha in enumerate(shas):
            _stored(store, target_repo, sha, i)
        monkeypatch.setattr(git_module, "run_git", counting)
        monkeypatch.setattr(ancestry, "run_git", counting)
        assert backfill_ancestry_ordinals(target_repo, store) == len(shas) == 3
        assert {r.commit.sha: r.commit.ancestry_ordinal  # type: ignore[union-attr]
                for r in store.list_runs()} == {sha: i + 1 for i, sha in enumerate(shas)}
    assert len(calls) <= 3, calls  # shallow?, which are commits, one chain
