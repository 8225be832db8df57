"""The cheap git reads the commit sensor uses: branch_tip, merge_base, commits_since;
and first_parent_ordinal, which orders commits that share a commit time."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.git import (
    branch_tip,
    commits_since,
    first_parent,
    first_parent_ordinal,
    is_ancestor,
    merge_base,
)
from perf_pipeline_tests.measure.conftest import commit_files, git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_files(path, {"a.txt": "0\n"}, "initial")
    return path


def test_branch_tip_reads_local_branches_only(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert branch_tip(repo, "main") == head
    git(repo, "tag", "v1")
    with pytest.raises(InvalidInputError, match=r"branch 'v1' does not exist in repository"):
        branch_tip(repo, "v1")  # a tag is not a branch
    with pytest.raises(InvalidInputError, match="branch 'gone' does not exist"):
        branch_tip(repo, "gone")


@pytest.mark.parametrize("name", ["main~1", "main^", "main@{1}", "main:a.txt", "main..main"])
def test_branch_tip_refuses_a_revision_of_a_branch(repo: Path, name: str) -> None:
    # rev-parse resolves refs/heads/main~1 to main's parent: a typo in watch_branches
    # would have pinned the sensor to a fixed commit labelled as a branch.
    commit_files(repo, {"a.txt": "1\n"}, "second")
    with pytest.raises(InvalidInputError, match="is not a branch name"):
        branch_tip(repo, name)


def test_branch_tip_names_a_missing_or_non_git_repo(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        branch_tip(tmp_path / "missing", "main")
    with pytest.raises(InvalidInputError, match="not a git repository"):
        branch_tip(tmp_path, "main")
    with pytest.raises(InvalidInputError, match="must not start with '-'"):
        branch_tip(tmp_path, "--all")


def test_commits_since_follows_the_first_parent_oldest_first(repo: Path) -> None:
    start = git(repo, "rev-parse", "HEAD")
    c1 = commit_files(repo, {"a.txt": "1\n"}, "one")
    git(repo, "checkout", "-q", "-b", "feature")
    f1 = commit_files(repo, {"b.txt": "1\n"}, "feature one")
    commit_files(repo, {"b.txt": "2\n"}, "feature two")
    git(repo, "checkout", "-q", "main")
    c2 = commit_files(repo, {"a.txt": "2\n"}, "two")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "merge", "-q", "--no-ff",
        "-m", "merge feature", "feature")
    merge = git(repo, "rev-parse", "HEAD")
    assert commits_since(repo, start, merge) == (c1, c2, merge)  # not the feature commits
    assert commits_since(repo, merge, merge) == ()
    assert merge_base(repo, f1, c2) == c1
    assert is_ancestor(repo, c1, merge) and not is_ancestor(repo, merge, c1)


def test_merge_base_of_unrelated_or_missing_commits_is_none(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--orphan", "other")
    other = commit_files(repo, {"z.txt": "z\n"}, "unrelated")
    assert merge_base(repo, head, other) is None
    assert merge_base(repo, "f" * 40, head) is None
    assert not is_ancestor(repo, "f" * 40, head)


def test_reads_reject_non_sha_arguments(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidInputError, match="full commit SHA"):
        commits_since(repo, "main", head)
    with pytest.raises(InvalidInputError, match="full commit SHA"):
        merge_base(repo, head, "--all")


def _merge_feature_into_main(repo: Path) -> tuple[str, str]:
    """One commit on main, then branch "feature" merged into it: (that commit, the merge)."""
    git(repo, "checkout", "-q", "main")
    main = commit_files(repo, {"a.txt": "1\n"}, "main")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "merge", "-q", "--no-ff",
        "-m", "merge feature", "feature")
    return main, git(repo, "rev-parse", "HEAD")


def test_first_parent_is_the_line_a_merge_was_made_on(repo: Path) -> None:
    root = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    feature = commit_files(repo, {"b.txt": "1\n"}, "feature")
    main, merge = _merge_feature_into_main(repo)
    assert first_parent(repo, merge) == main and first_parent(repo, feature) == root
    assert first_parent(repo, root) is None
    with pytest.raises(InvalidInputError, match=f"{'f' * 40}.*not in repository"):
        first_parent(repo, "f" * 40)
    with pytest.raises(InvalidInputError, match="full commit SHA"):
        first_parent(repo, "--all")


def test_first_parent_ordinal_counts_the_line_a_commit_is_on(repo: Path) -> None:
    root = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    f1 = commit_files(repo, {"b.txt": "1\n"}, "feature one")
    f2 = commit_files(repo, {"b.txt": "2\n"}, "feature two")
    main, merge = _merge_feature_into_main(repo)
    assert first_parent_ordinal(repo, root) == 1
    assert (first_parent_ordinal(repo, f1), first_parent_ordinal(repo, f2)) == (2, 3)
    # a merge follows the line it was made on, not the merged branch's length
    assert (first_parent_ordinal(repo, main), first_parent_ordinal(repo, merge)) == (2, 3)
    with pytest.raises(InvalidInputError, match=f"{'f' * 40}.*not in repository"):
        first_parent_ordinal(repo, "f" * 40)
    for hostile in ("--all", "main", "HEAD~1"):
        with pytest.raises(InvalidInputError, match="full commit SHA"):
            first_parent_ordinal(repo, hostile)


def test_first_parent_ordinal_is_unknown_in_a_shallow_clone(repo: Path,
                                                            tmp_path: Path) -> None:
    """A CI checkout of depth 1 counted 1 for every commit it measured: the cut, not the
    commit's place, so history ordered a child before its parent measured elsewhere."""
    commit_files(repo, {"b.txt": "1\n"}, "second")
    tip = commit_files(repo, {"b.txt": "2\n"}, "third")
    assert first_parent_ordinal(repo, tip) == 3
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    assert first_parent_ordinal(shallow, tip) is None
