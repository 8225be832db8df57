"""Cheap, safe reads from a git repository.

Every call goes through ``_git``: an argument list (never a shell), a timeout, no
terminal prompts. A user-supplied ref is checked and resolved to a full SHA once, by
``resolve_commit``; after that only full SHAs travel, so nothing a user typed reaches
git as an option.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.model import CommitInfo

__all__ = [
    "GIT_TIMEOUT_S",
    "branch_tip",
    "check_full_sha",
    "commit_info",
    "commits_since",
    "current_branch",
    "first_parent",
    "first_parent_ordinal",
    "git_env",
    "is_full_sha",
    "is_shallow",
    "merge_base",
    "new_commits",
    "paths_at",
    "resolve_commit",
    "run_git",
]

logger = logging.getLogger(__name__)

#: Upper bound for one git read; these are local, small operations.
GIT_TIMEOUT_S = 60.0
_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def git_env() -> dict[str, str]:
    """The environment for git children: never prompt, never page, no user locale."""
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C",
                "GIT_OPTIONAL_LOCKS": "0"})
    return env


def run_git(
    repo: Path, args: Sequence[str], *, timeout_s: float = GIT_TIMEOUT_S, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``git -C repo <args>`` and return the completed process.

    Raises ``MeasurementError`` for a failed command when ``check`` (the caller turns
    expected failures, like an unknown ref, into ``InvalidInputError`` itself).
    """
    cmd = ["git", "-C", str(repo), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env=git_env(), check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise MeasurementError(f"git {' '.join(args[:2])} in {repo} timed out after "
                               f"{timeout_s:g} s") from exc
    except OSError as exc:
        raise MeasurementError(f"cannot run git in {repo}: {exc}") from exc
    if check and proc.returncode != 0:
        raise MeasurementError(
            f"git {' '.join(args[:2])} in {repo} failed: {proc.stderr.strip()[-500:]}",
            returncode=proc.returncode, stderr_tail=proc.stderr[-2000:])
    return proc


def _check_ref(ref: str) -> None:
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError(f"git ref {ref!r} is empty")
    if ref.startswith("-"):
        raise InvalidInputError(f"git ref {ref!r} must not start with '-'")
    if any(c in ref for c in "\x00\n\r"):
        raise InvalidInputError(f"git ref {ref!r} contains a NUL or newline")


def resolve_commit(repo: Path, ref: str) -> str:
    """The full SHA of the commit ``ref`` names in ``repo``.

    Raises ``InvalidInputError`` naming the repo and ref for an option-like ref, an
    unknown ref, or a ``repo`` that is not a git repository.
    """
    sha, stderr = _rev_parse_commit(repo, ref, f"{ref}^{{commit}}", "resolving ref")
    if sha is None:
        reason = stderr or "unknown revision or not a commit"
        raise InvalidInputError(f"cannot resolve ref {ref!r} in repository {repo}: {reason}")
    _refuse_ambiguous(Path(repo), ref)
    return sha


# Where git looks for a short ref name, in its order (git-rev-parse(1), "SPECIFYING
# REVISIONS"); the first that exists wins.
_DWIM_PREFIXES = ("refs/", "refs/tags/", "refs/heads/", "refs/remotes/")


def _refuse_ambiguous(repo: Path, ref: str) -> None:
    """Refuse a short name that is both a branch and a tag (or a remote branch) on
    different commits. git takes the tag, silently under ``--quiet``: ``run main`` with
    an old tag ``main`` measured the tag, recorded as if it were the branch's tip."""
    name = re.split(r"[~^@:]", ref, maxsplit=1)[0]
    if not name or name.startswith("refs/") or name == "HEAD" or is_full_sha(name):
        return  # nothing to choose (a full SHA: every is_ancestor and sensor tick passes one)
    wanted = [prefix + name for prefix in _DWIM_PREFIXES]
    proc = run_git(repo, ["for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)",
                          "--end-of-options", *wanted], check=False)
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        full, obj, peeled = [*line.split("\0"), "", ""][:3]
        if full in wanted:
            found[full] = peeled or obj
    if len(set(found.values())) > 1:
        names = ", ".join(f"{full} ({obj[:10]})" for full, obj in sorted(
            found.items(), key=lambda item: wanted.index(item[0])))
        raise InvalidInputError(
            f"ref {ref!r} is ambiguous in repository {repo}: {name!r} names {names}; "
            f"give the one you mean in full (e.g. {ref.replace(name, 'refs/heads/' + name, 1)!r})")


def _rev_parse_commit(repo: Path, ref: str, spec: str, doing: str) -> tuple[str | None, str]:
    """(full SHA or None, git's stderr) for ``spec`` after checking ``ref`` and ``repo``."""
    _check_ref(ref)
    repo = Path(repo)
    if not repo.is_dir():
        raise InvalidInputError(f"repository {repo} does not exist ({doing} {ref!r})")
    proc = run_git(repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", spec],
                   check=False)
    sha = proc.stdout.strip()
    ok = proc.returncode == 0 and is_full_sha(sha)
    return (sha if ok else None), proc.stderr.strip()


def is_full_sha(text: object) -> bool:
    """Whether ``text`` is a full commit SHA as git prints it: 40 lower-case hex digits,
    or 64 in a SHA-256 repository (``git init --object-format=sha256``)."""
    return isinstance(text, str) and _SHA_RE.fullmatch(text) is not None


def check_full_sha(sha: str) -> None:
    """Refuse anything but a full SHA before it reaches git: a ref or an abbreviation is
    resolved once, by the caller, so every later git call names one fixed commit."""
    if not is_full_sha(sha):
        raise InvalidInputError(f"{sha!r} is not a full commit SHA (resolve refs first)")


def commit_info(repo: Path, sha: str, *, branch: str | None = None) -> CommitInfo:
    """Message, author and commit time (ISO-8601) of the commit ``sha``."""
    check_full_sha(sha)
    proc = run_git(repo, ["show", "-s", "--no-show-signature",
                          "--format=%H%x00%an <%ae>%x00%cI%x00%B", sha, "--"])
    parts = proc.stdout.split("\x00", 3)
    if len(parts) != 4:
        raise MeasurementError(f"git show of {sha} in {repo} gave unexpected output")
    full, author, committed_at, message = parts
    return CommitInfo(sha=full.strip(), branch=branch, message=message.strip(),
                      author=author.strip(), committed_at=committed_at.strip() or None)


def current_branch(repo: Path) -> str | None:
    """The checked-out branch of ``repo``, or None when HEAD is detached or unborn."""
    proc = run_git(repo, ["symbolic-ref", "--quiet", "--short", "HEAD"], check=False)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None


def new_commits(repo: Path, ref: str, *, since_sha: str | None = None,
                max_count: int = 50) -> tuple[str, ...]:
    """Full SHAs reachable from ``ref`` but not from ``since_sha``, oldest first.

    This is what a sensor needs to add partitions: cheap, bounded by ``max_count``.
    """
    if max_count < 1:
        raise InvalidInputError(f"max_count must be >= 1, not {max_count!r}")
    head = resolve_commit(repo, ref)
    args = ["rev-list", f"--max-count={int(max_count)}", head]
    if since_sha is not None:
        check_full_sha(since_sha)
        args.append(f"^{since_sha}")
    proc = run_git(repo, [*args, "--"])
    return tuple(reversed(proc.stdout.split()))


def is_ancestor(repo: Path, sha: str, branch: str) -> bool:
    """Whether ``sha`` is on ``branch`` (reachable from its tip); False if no such branch.

    Runs measured by SHA (a Dagster partition) carry no branch name; this is how they are
    still known to belong to the main branch, which the rolling baseline is built from.
    """
    check_full_sha(sha)
    try:
        tip = resolve_commit(repo, branch)
    except InvalidInputError:
        return False
    proc = run_git(repo, ["merge-base", "--is-ancestor", sha, tip], check=False)
    return proc.returncode == 0


#: What git-check-ref-format(1) forbids in a ref name and rev-parse reads as an operator.
_REVISION_SYNTAX = re.compile(r"[~^:]|@\{|\.\.")


def branch_tip(repo: Path, branch: str) -> str:
    """The full SHA at the tip of the local branch ``branch``.

    Only ``refs/heads/<branch>`` counts, so a tag or a remote branch of the same name is
    never taken for a deleted branch. Raises ``InvalidInputError`` naming the repo and
    branch for a missing repo, a directory that is not a git repository, or no such branch.
    """
    if _REVISION_SYNTAX.search(branch):
        # rev-parse would read ``main~2`` as a revision of the branch ``main``: a typo in
        # watch_branches would quietly pin the sensor to a fixed commit under that name.
        raise InvalidInputError(f"{branch!r} is not a branch name: it holds git's revision "
                                "syntax (~ ^ : @{ ..)")
    sha, stderr = _rev_parse_commit(repo, branch, f"refs/heads/{branch}^{{commit}}",
                                    "reading branch")
    if sha is not None:
        return sha
    if "not a git repository" in stderr.lower():
        raise InvalidInputError(f"{repo} is not a git repository (reading branch {branch!r})")
    raise InvalidInputError(f"branch {branch!r} does not exist in repository {repo}")


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two full SHAs, or None (unrelated, or ``a`` is gone)."""
    check_full_sha(a)
    check_full_sha(b)
    proc = run_git(repo, ["merge-base", a, b, "--"], check=False)
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and is_full_sha(sha) else None


def _not_in_repo(repo: Path, sha: str, stderr: str) -> InvalidInputError:
    return InvalidInputError(f"commit {sha} is not in repository {repo}: "
                             f"{stderr.strip()[-300:] or 'no such commit'}")


def first_parent(repo: Path, sha: str) -> str | None:
    """The first parent of the commit ``sha`` (for a merge, the commit of the branch it
    was made on, not the merged one), or None for a root commit.

    What a commit changed is measured against this parent: a range's previous commit
    need not be it. ``sha`` must be a full SHA, passed after the revision it names and
    before ``--``, so it is never read as an option. Raises ``InvalidInputError`` when
    the repo has no such commit.
    """
    check_full_sha(sha)
    proc = run_git(repo, ["rev-list", "--parents", "--max-count=1", sha, "--"], check=False)
    listed = proc.stdout.split()
    if proc.returncode != 0 or not listed or listed[0] != sha:
        raise _not_in_repo(repo, sha, proc.stderr)
    return listed[1] if len(listed) > 1 else None


def is_shallow(repo: Path) -> bool:
    """Whether ``repo`` is a shallow clone (``--depth``, a CI checkout): its history is
    cut, so counts along it are counts to the cut. False if it cannot tell."""
    proc = run_git(repo, ["rev-parse", "--is-shallow-repository"], check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def first_parent_ordinal(repo: Path, sha: str) -> int | None:
    """How many commits the first-parent chain ending at ``sha`` holds (a root commit: 1);
    None in a shallow clone, where the chain stops at the cut (the tip of a depth-1
    clone would count 1, and a commit measured from two clones two different counts).

    History orders runs by commit time; a rebase (GitHub's "Rebase and merge") gives
    every rewritten commit the same committer second, and this count orders those
    parent before child (``CommitInfo.ancestry_ordinal``). ``sha`` must be a full SHA,
    passed as the only revision and before ``--``, so it is never read as an option.
    Raises ``InvalidInputError`` when the repo has no such commit.
    """
    check_full_sha(sha)
    proc = run_git(repo, ["rev-list", "--count", "--first-parent", sha, "--"], check=False)
    count = proc.stdout.strip()
    if proc.returncode != 0 or not count.isdigit():
        raise _not_in_repo(repo, sha, proc.stderr)
    return None if is_shallow(repo) else int(count)


def commits_since(repo: Path, since_sha: str, tip: str) -> tuple[str, ...]:
    """First-parent commits after ``since_sha`` up to ``tip`` (included), oldest first.

    First parent only: each state the branch itself went through (a merged pull request
    is its merge commit), not every commit of every merged branch. ``since_sha`` must be
    an ancestor of ``tip`` (check with ``is_ancestor``); one ``rev-list`` stays cheap on
    large histories (about 0.1 s for 10,000 commits).
    """
    check_full_sha(since_sha)
    check_full_sha(tip)
    proc = run_git(repo, ["rev-list", "--first-parent", "--reverse", tip, f"^{since_sha}",
                          "--"])
    return tuple(proc.stdout.split())


def paths_at(repo: Path, sha: str, paths: Sequence[str]) -> frozenset[str]:
    """Which of ``paths`` (files or folders, relative to the repository's root) exist at
    commit ``sha``: one ``git ls-tree``, so a selection can be checked before anything
    is measured."""
    if not paths:
        return frozenset()
    # -r -t: a folder is listed as itself (without them, as its contents).
    proc = run_git(repo, ["ls-tree", "-r", "-t", "-z", "--name-only", "--full-tree", sha, "--",
                          *paths])
    return frozenset(p for p in proc.stdout.split("\0") if p)
