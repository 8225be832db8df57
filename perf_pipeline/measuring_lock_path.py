"""Where this user's measuring lock lives on this machine, when no setting says.

The lock itself (``measure/measuring_lock.py``) makes measuring processes take turns; this
module only names its default file, the same whatever the results dir, so two projects
measured on one box take turns too. Kept apart from ``config.py`` (which owns the
settings) because finding that file is a job of its own: a home this user cannot write
moves it to a folder of the temp dir, which must then be this user's alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from perf_pipeline.config_env import MEASURING_LOCK_ENV
from perf_pipeline.errors import InvalidInputError

__all__ = ["machine_measuring_lock"]


def machine_measuring_lock() -> Path:
    """This user's measuring lock on this machine, the same whatever the results dir: two
    projects measured on one box take turns. ``PERF_PIPELINE_MEASURING_LOCK`` is read here
    too, so settings built without ``load_settings`` (a test's ``Settings(...)``) use it."""
    if os.environ.get(MEASURING_LOCK_ENV, "").strip():
        return Path(os.environ[MEASURING_LOCK_ENV].strip()).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        root: Path | None = Path(cache) if cache else Path.home() / ".cache"
    except RuntimeError:  # no home directory at all (a bare container user)
        root = None
    if root is None or not _can_make_in(root / "perf_pipeline"):
        # A home this user cannot write (user nobody's /nonexistent, a container run with
        # --user and HOME=/, a read-only home) made every measuring command fail on the
        # lock, where measuring itself needs no home. Every process of this user sees the
        # same home, so all of them choose the same file.
        user = os.getuid() if hasattr(os, "getuid") else "user"
        root = Path(tempfile.gettempdir()) / f"perf_pipeline-{user}"
        _check_own_folder(root)
    return root / "perf_pipeline" / "measuring.lock"


def _check_own_folder(root: Path) -> None:
    """The temp folder's name is known to every local user: one who made it first (or
    left it writable to others) could hold this user's lock for ever, or swap the lock
    file. Only a folder of this user's, closed to others, is used."""
    if not hasattr(os, "getuid"):
        return  # Windows: no flock, the lock is a no-op anyway
    try:
        info = root.lstat()
    except FileNotFoundError:
        return  # made by the lock itself, this user's
    except OSError as exc:
        raise InvalidInputError(f"measuring lock folder {root}: {exc.strerror or exc}") from exc
    if info.st_uid != os.getuid() or info.st_mode & 0o022 or not root.is_dir() \
            or root.is_symlink():
        raise InvalidInputError(
            f"measuring lock folder {root} belongs to another user or is open to others "
            f"(this user's home cannot hold the lock): set {MEASURING_LOCK_ENV} to a file "
            "of your own")


def _can_make_in(folder: Path) -> bool:
    """Whether ``folder`` is, or can be made as, a folder this process may write in."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    return False
