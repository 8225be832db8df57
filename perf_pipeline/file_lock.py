"""One exclusive lock on a path, for processes that must take turns.

``fcntl.flock``: the kernel releases it when its holder dies, however it dies, so a
killed run never leaves a stale lock. Worktrees of one SHA, a venv being built, the
measuring processes of a machine and the writers of a baseline folder all take turns
through it. Windows has no ``flock``: there the lock is a no-op (held at once).

A lock file may be deleted by its holder (``remove_held_lock``): the worktree lock of a
commit whose worktree is pruned would otherwise stay for ever, one file per commit ever
measured. A process that opened the file before it was deleted and waited for it then
holds a lock on a name nobody else can find, beside a newcomer who made the file again;
so whoever gets the lock checks that the name still leads to the file it locked, and
takes the lock again from the start if not.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking
    fcntl = None  # type: ignore[assignment]

__all__ = ["exclusive_lock", "remove_held_lock"]


def _open_for_lock(path: Path) -> int:
    """A descriptor to ``flock``: a folder read-only, a lock file read-write (made if
    missing), else read-only. Another user's lock file (0644: a lock shared by several
    users on one mount) cannot be opened for writing, and ``flock`` needs no write access:
    that user was refused the lock ("Permission denied") instead of taking turns."""
    if path.is_dir():
        return os.open(path, os.O_RDONLY)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError as refused:  # no folder to make it in, or not ours
        try:
            return os.open(path, os.O_RDONLY)
        except OSError:
            raise refused from None


@contextlib.contextmanager
def exclusive_lock(path: Path, *, blocking: bool = True,
                   on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on ``path``: a directory (locked itself, so no lock file
    appears beside the user's files) or a lock file, created with its folder if missing.

    Yields True once held; with ``blocking=False``, False at once if another holds it.
    ``on_wait`` is called once when the lock is busy, before waiting for it.
    """
    path = Path(path)
    waited = False
    while True:
        if not path.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_for_lock(path)
        try:
            if fcntl is None:  # pragma: no cover
                yield True
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not blocking:
                    yield False
                    return
                if on_wait is not None and not waited:
                    on_wait()
                waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not _still_named(fd, path):
                continue  # its holder deleted it while we waited: lock the new one
            yield True
            return
        finally:
            os.close(fd)  # releases the lock


def _still_named(fd: int, path: Path) -> bool:
    """Whether ``path`` is still the file open as ``fd`` (not deleted, nor made anew)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def remove_held_lock(path: Path) -> None:
    """Delete the lock file ``path``, which the caller holds (``exclusive_lock``): those
    waiting for it find it gone once they get it, and lock a new file of that name."""
    Path(path).unlink(missing_ok=True)
