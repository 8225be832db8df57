"""One exclusive lock on a path, for processes that must take turns.

``fcntl.flock``: the kernel releases it when its holder dies, however it dies, so a
killed run never leaves a stale lock. Worktrees of one SHA, a venv being built, the
measuring processes of a machine and the writers of a baseline folder all take turns
through it. Windows has no ``flock``: there the lock is a no-op (held at once).
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

__all__ = ["exclusive_lock"]


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
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)  # releases the lock
