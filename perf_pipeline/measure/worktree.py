"""Isolated checkouts of one commit each, with ``git worktree``.

Decision: worktrees are KEPT after use and reused, one per SHA under ``root``, and old
ones are removed by ``prune_worktrees(keep=N)``, with their lock files (one per commit
ever measured would pile up for ever on a machine that measures every commit). Why:
interleaved A/B comparisons and re-runs measure the same few commits again and again,
and with ``runner="uv"`` the target's virtualenv lives inside the checkout, so reuse
saves a checkout and a full environment build per run. Pass ``remove=True`` to get a
throw-away worktree instead.

Safety: a reused worktree must be at the right SHA with no changes to tracked files;
untracked, non-ignored files are cleaned (ignored ones such as ``.venv`` and
``__pycache__`` stay, which is the point of reuse). Anything else is recreated. A lock
file per SHA (``fcntl.flock``, where available) serialises concurrent users of one SHA.
If creating a worktree fails half-way, the partial directory and git's record of it are
removed before the error propagates; an exception in the ``with`` body leaves a valid
checkout, which the next user validates anyway.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.file_lock import exclusive_lock, remove_held_lock
from perf_pipeline.measure.git import check_full_sha, is_full_sha, run_git

__all__ = ["git_worktree", "prune_worktrees"]

logger = logging.getLogger(__name__)

#: Creating a worktree of a big repo can take a while; still bounded.
_CHECKOUT_TIMEOUT_S = 600.0


def _lock_path(root: Path, sha: str) -> Path:
    return root / ".locks" / f"{sha}.lock"


@contextlib.contextmanager
def _sha_lock(root: Path, sha: str, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock for ``sha`` under ``root``; yields False if non-blocking and busy."""
    with exclusive_lock(_lock_path(root, sha), blocking=blocking) as held:
        yield held


def _is_reusable(path: Path, sha: str) -> bool:
    """True if ``path`` is a worktree checked out at ``sha`` with clean tracked files."""
    if not (path / ".git").is_file():
        return False
    head = run_git(path, ["rev-parse", "--verify", "--quiet", "HEAD"], check=False)
    if head.returncode != 0 or head.stdout.strip() != sha:
        return False
    status = run_git(path, ["status", "--porcelain", "--untracked-files=no"], check=False)
    if status.returncode != 0 or status.stdout.strip():
        return False
    cleaned = run_git(path, ["clean", "-ffd", "-q"], check=False)
    return cleaned.returncode == 0


def _remove(repo: Path, path: Path) -> None:
    """Remove the worktree at ``path`` and git's record of it, whatever state it is in."""
    run_git(repo, ["worktree", "remove", "--force", "--force", str(path)], check=False)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    run_git(repo, ["worktree", "prune"], check=False)


def _create(repo: Path, path: Path, sha: str) -> None:
    _remove(repo, path)
    try:
        run_git(repo, ["worktree", "add", "--detach", "--force", str(path), sha],
                timeout_s=_CHECKOUT_TIMEOUT_S)
    except BaseException:  # failed or interrupted half-way: leave no broken worktree
        _remove(repo, path)
        raise


@contextlib.contextmanager
def git_worktree(repo: Path, sha: str, *, root: Path, remove: bool = False) -> Iterator[Path]:
    """A checkout of ``sha`` (a full SHA) of ``repo`` at ``root/<sha>``, reused if valid.

    Yields the worktree path. With ``remove=True`` the worktree is deleted on exit.
    """
    check_full_sha(sha)
    repo = Path(repo).resolve()
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    path = root / sha
    with _sha_lock(root, sha):
        if _is_reusable(path, sha):
            logger.debug("reusing worktree %s", path)
        else:
            logger.info("creating worktree for %s at %s", sha, path)
            _create(repo, path, sha)
        os.utime(path)  # mark as recently used for prune_worktrees
        try:
            yield path
        finally:
            if remove:
                _remove(repo, path)


def prune_worktrees(repo: Path, root: Path, *, keep: int = 5) -> tuple[Path, ...]:
    """Remove all but the ``keep`` most recently used worktrees under ``root``.

    Worktrees in use (locked) are skipped. Returns the removed paths. Also runs
    ``git worktree prune`` so git forgets worktrees whose directories are gone, and
    deletes the lock files of commits without a worktree that nobody holds.
    """
    if keep < 0:
        raise InvalidInputError(f"keep must be >= 0, not {keep!r}")
    repo = Path(repo).resolve()
    root = Path(root).resolve()
    removed: list[Path] = []
    if root.is_dir():
        used = {p: t for p in root.iterdir()
                if is_full_sha(p.name) and (t := _used_at(p)) is not None}
        for path in sorted(used, key=used.__getitem__, reverse=True)[keep:]:
            with _sha_lock(root, path.name, blocking=False) as acquired:
                if not acquired:
                    logger.info("worktree %s is in use; not pruning it", path)
                    continue
                _remove(repo, path)
                remove_held_lock(_lock_path(root, path.name))
                removed.append(path)
        _remove_idle_locks(root)
    run_git(repo, ["worktree", "prune"], check=False)
    return tuple(removed)


def _used_at(path: Path) -> float | None:
    """When the worktree at ``path`` was last used; None if it is no worktree folder or is
    gone: a prune running beside this one (A/B and profile prune outside the measuring
    lock) may remove it between the listing and this look, and a stat of it then raised
    FileNotFoundError out of the measurement."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime if stat.S_ISDIR(info.st_mode) else None


def _remove_idle_locks(root: Path) -> None:
    """Delete the lock files under ``root`` of commits that have no worktree (pruned
    earlier, or by a version that kept their locks) and that nobody holds."""
    locks = root / ".locks"
    if not locks.is_dir():
        return
    for lock in locks.glob("*.lock"):
        sha = lock.name.removesuffix(".lock")
        if not is_full_sha(sha) or (root / sha).exists():
            continue
        with _sha_lock(root, sha, blocking=False) as acquired:
            if acquired and not (root / sha).exists():  # made while we looked: in use
                remove_held_lock(lock)
