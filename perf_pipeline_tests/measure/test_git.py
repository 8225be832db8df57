from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import commit_info, current_branch, new_commits, resolve_commit
from perf_pipeline_tests.measure.conftest import git


def test_resolve_commit_accepts_head_branch_short_sha_and_parent(target_repo: Path) -> None:
    head = git(target_repo, "rev-parse", "HEAD")
    parent = git(target_repo, "rev-parse", "HEAD~1")
    assert resolve_commit(target_repo, "HEAD") == head
    assert resolve_commit(target_repo, "main") == head
    assert resolve_commit(target_repo, head[:8]) == head
    assert resolve_commit(target_repo, "HEAD~1") == parent
    assert len(head) == 40


@pytest.mark.parametrize("ref", ["--upload-pack=x", "-h", "HEAD\nmain", "a\x00b", "", " "])
def test_resolve_commit_rejects_option_like_and_control_refs(target_repo: Path, ref: str) -> None:
    with pytest.raises(InvalidInputError, match="ref"):
        resolve_commit(target_repo, ref)


def test_a_name_that_is_a_branch_and_a_tag_on_different_commits_is_refused(
        target_repo: Path) -> None:
    """git takes the tag, silently: ``run main`` with an old tag ``main`` measured the
    tag as if it were the branch's tip."""
    head = git(target_repo, "rev-parse", "HEAD")
    parent = git(target_repo, "rev-parse", "HEAD~1")
    git(target_repo, "tag", "-a", "-m", "an old release", "main", parent)
    for ref in ("main", "main~1", "main^{commit}"):
        with pytest.raises(InvalidInputError, match=r"is ambiguous.*'main' names refs/tags/"
                                                    r"main \(.*refs/heads/main .*'refs/heads/"):
            resolve_commit(target_repo, ref)
    assert resolve_commit(target_repo, "refs/heads/main") == head  # named in full: fine
    assert resolve_commit(target_repo, "refs/tags/main") == parent
    assert resolve_commit(target_repo, "HEAD") == head
    git(target_repo, "tag", "-f", "main", head)  # both on one commit: nothing to choose
    assert resolve_commit(target_repo, "main") == head


def test_resolve_commit_rejects_unknown_ref_naming_repo_and_ref(target_repo: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"no-such-branch.*target"):
        resolve_commit(target_repo, "no-such-branch")


def test_resolve_commit_rejects_non_repo(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="HEAD"):
        resolve_commit(tmp_path, "HEAD")
    with pytest.raises(InvalidInputError, match="does not exist"):
        resolve_commit(tmp_path / "missing", "HEAD")


def test_commit_info_reads_message_author_and_time(target_repo: Path) -> None:
    sha = resolve_commit(target_repo, "HEAD~1")
    info = commit_info(target_repo, sha, branch="main")
    assert info.sha == sha
    assert info.subject == "second: more benchmarks"
    assert info.author == "Test <test@example.com>"
    assert info.committed_at and info.committed_at[:4].isdigit() and "T" in info.committed_at
    assert info.branch == "main"


def test_commit_info_refuses_abbreviated_sha(target_repo: Path) -> None:
    with pytest.raises(InvalidInputError, match="full commit SHA"):
        commit_info(target_repo, "abc123")


@pytest.mark.parametrize("suffix", ["\n", "\nHEAD", " ", "0"])
def test_commit_info_refuses_a_full_sha_with_anything_after_it(target_repo: Path,
                                                                suffix: str) -> None:
    # A regex anchored with `$` lets a trailing newline through; the SHA must be all there is.
    sha = resolve_commit(target_repo, "HEAD")
    with pytest.raises(InvalidInputError, match="full commit SHA"):
        commit_info(target_repo, sha + suffix)


def test_current_branch_and_detached_head(target_repo: Path) -> None:
    assert current_branch(target_repo) == "main"
    git(target_repo, "checkout", "-q", "--detach", "HEAD~1")
    assert current_branch(target_repo) is None


def test_new_commits_lists_oldest_first_since_a_sha(target_repo: Path) -> None:
    shas = git(target_repo, "rev-list", "--reverse", "HEAD").split()
    assert new_commits(target_repo, "main") == tuple(shas)
    assert new_commits(target_repo, "main", since_sha=shas[0]) == tuple(shas[1:])
    assert new_commits(target_repo, "main", max_count=1) == (shas[-1],)
