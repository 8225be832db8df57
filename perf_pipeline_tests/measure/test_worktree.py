from __future__ import annotations

import os
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import git_worktree, prune_worktrees, resolve_commit
from perf_pipeline_tests.measure.conftest import git


def _registered(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def test_worktree_checks_out_the_sha_and_is_reused(target_repo: Path, tmp_path: Path) -> None:
    root = tmp_path / "wt"
    sha = resolve_commit(target_repo, "HEAD~2")
    with git_worktree(target_repo, sha, root=root) as path:
        assert path == (root / sha).resolve()
        assert git(path, "rev-parse", "HEAD") == sha
        assert "test_more" not in (path / "proj/tests/test_perf.py").read_text()
        (path / "proj" / "ignored_build_output").mkdir()  # untracked: will be cleaned
        marker = path / ".git"
        inode = marker.stat().st_ino
    with git_worktree(target_repo, sha, root=root) as again:
        assert again == path
        assert again.joinpath(".git").stat().st_ino == inode  # reused, not recreated
        assert not (again / "proj" / "ignored_build_output").exists()
    assert str(path) in _registered(target_repo)


def test_dirty_or_broken_worktree_is_recreated(target_repo: Path, tmp_path: Path) -> None:
    root = tmp_path / "wt"
    sha = resolve_commit(target_repo, "HEAD")
    with git_worktree(target_repo, sha, root=root) as path:
        (path / "proj/README").write_text("edited by a benchmark\n")
    with git_worktree(target_repo, sha, root=root) as path:
        assert (path / "proj/README").read_text() == "v3\n"
    (path / ".git").unlink()  # broken: no longer a worktree
    with git_worktree(target_repo, sha, root=root) as path:
        assert git(path, "rev-parse", "HEAD") == sha


def test_exception_in_body_leaves_a_valid_reusable_checkout(target_repo: Path,
                                                           tmp_path: Path) -> None:
    root = tmp_path / "wt"
    sha = resolve_commit(target_repo, "HEAD")
    with pytest.raises(RuntimeError), git_worktree(target_repo, sha, root=root):
        raise RuntimeError("suite blew up")
    with git_worktree(target_repo, sha, root=root) as path:
        assert git(path, "status", "--porcelain") == ""


def test_remove_true_deletes_worktree_and_git_record(target_repo: Path, tmp_path: Path) -> None:
    sha = resolve_commit(target_repo, "HEAD")
    with git_worktree(target_repo, sha, root=tmp_path / "wt", remove=True) as path:
        assert path.is_dir()
    assert not path.exists()
    assert str(path) not in _registered(target_repo)


def test_failed_checkout_leaves_nothing_behind(target_repo: Path, tmp_path: Path) -> None:
    missing = "0" * 40
    with pytest.raises(Exception, match="worktree"), \
            git_worktree(target_repo, missing, root=tmp_path / "wt"):
        pass  # pragma: no cover
    assert not (tmp_path / "wt" / missing).exists()
    assert len(_registered(target_repo)) == 1


@pytest.mark.parametrize("ref", ["HEAD", "sha+newline"])
def test_worktree_rejects_refs_that_are_not_full_shas(target_repo: Path, tmp_path: Path,
                                                      ref: str) -> None:
    if ref == "sha+newline":
        ref = git(target_repo, "rev-parse", "HEAD").strip() + "\n"
    with pytest.raises(InvalidInputError, match="full commit SHA"), \
            git_worktree(target_repo, ref, root=tmp_path / "wt"):
        pass  # pragma: no cover


def _three_aged_worktrees(target_repo: Path, root: Path) -> list[str]:
    """Worktrees of HEAD~2, HEAD~1 and HEAD under ``root``, dated oldest first."""
    shas = [resolve_commit(target_repo, ref) for ref in ("HEAD~2", "HEAD~1", "HEAD")]
    for age, sha in enumerate(shas):
        with git_worktree(target_repo, sha, root=root) as path:
            pass
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    return shas


def test_prune_keeps_most_recent_and_forgets_stale_entries(target_repo: Path,
                                                          tmp_path: Path) -> None:
    root = tmp_path / "wt"
    shas = _three_aged_worktrees(target_repo, root)
    removed = prune_worktrees(target_repo, root, keep=1)
    assert {p.name for p in removed} == set(shas[:2])
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == [shas[2]]
    assert len(_registered(target_repo)) == 2  # the main checkout + the kept one
    with pytest.raises(InvalidInputError, match="keep"):
        prune_worktrees(target_repo, root, keep=-1)


def test_prune_removes_the_locks_of_commits_without_a_worktree_unless_held(
        target_repo: Path, tmp_path: Path) -> None:
    """Every measured commit left ``.locks/<sha>.lock`` for ever (worktrees were pruned to
    the last few, their locks never): thousands of files a year on a machine measuring
    every commit. Only the kept worktrees' locks and a lock someone holds stay."""
    from perf_pipeline_tests.lock_holder import hold_lock, release

    root = tmp_path / "wt"
    shas = _three_aged_worktrees(target_repo, root)
    left_by_older_version = root / ".locks" / f"{'a' * 40}.lock"
    left_by_older_version.touch()
    held = root / ".locks" / f"{'b' * 40}.lock"  # someone about to make its worktree
    holder = hold_lock(held)
    try:
        prune_worktrees(target_repo, root, keep=1)
        assert sorted(p.name for p in (root / ".locks").iterdir()) == sorted(
            [f"{shas[2]}.lock", held.name])
    finally:
        release(holder)
    with git_worktree(target_repo, shas[0], root=root) as path:  # a pruned one comes back
        assert git(path, "rev-parse", "HEAD") == shas[0]


def test_prune_passes_over_a_worktree_another_prune_removed_after_the_listing(
        target_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prunes run beside each other (A/B and profile prune outside the measuring lock):
    one removing a worktree between the other's first look at it (listing it as a
    folder) and its second (reading its age to sort) raised FileNotFoundError out of the
    measurement. The other prune is played by a second look that finds it gone."""
    import pathlib
    import shutil

    root = tmp_path / "wt"
    shas = _three_aged_worktrees(target_repo, root)
    gone = root / shas[0]
    real_stat = pathlib.Path.stat
    looks = {"n": 0}

    def stat_then_gone(self: pathlib.Path, **kwargs: object) -> os.stat_result:
        if self == gone:
            looks["n"] += 1
            if looks["n"] == 2:  # the other prune removes it just before this look
                shutil.rmtree(gone, ignore_errors=True)
        return real_stat(self, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", stat_then_gone)
    removed = prune_worktrees(target_repo, root, keep=1)
    monkeypatch.undo()
    assert {p.name for p in removed} <= {shas[0], shas[1]} and shas[1] in {
        p.name for p in removed}
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [shas[2]]
