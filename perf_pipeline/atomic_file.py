"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file perf_pipeline writes (raw run records, the baseline, analyses, reports) goes
through here: a temporary file in the same directory, flushed to disk, then
``os.replace``. One place, so durability and cleanup rules cannot drift apart.

A writer killed between creating its temporary file and the rename (SIGKILL, the OOM
killer, a power cut) cannot remove it, so each write also removes the stale temporary
files of earlier writers in its folder (``sweep_stale_temp_files``): only names of the
form we make, and only ones untouched for ``STALE_TEMP_AGE_S``, so a live writer's file
is never taken from under it.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from perf_pipeline.errors import InvalidInputError

__all__ = [
    "STALE_TEMP_AGE_S", "check_writable_file", "fsync_dir", "make_dirs",
    "sweep_stale_temp_files", "write_atomic", "write_new_atomic"]

logger = logging.getLogger(__name__)

#: A temporary file untouched this long is a dead writer's: a live one writes its bytes,
#: fsyncs and renames within seconds.
STALE_TEMP_AGE_S = 3600.0

#: Our temporary names: ``.<target name>.<mkstemp's 8 characters>.tmp`` (``_write_temp``).
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _creation_mode() -> int:
    """What ``open()`` would give a new file: 0o666 less the umask. ``mkstemp`` makes its
    file 0o600 whatever the umask, which left every report, baseline and corpus unreadable
    to the rest of a team sharing the results directory (or a web server serving it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


# Read once, at import: changing the umask is process-wide, so not in a writer's thread.
_NEW_FILE_MODE = _creation_mode()


def check_writable_file(path: Path, what: str) -> Path:
    """``path`` if ``write_atomic`` could write it there (its folders made as needed).

    Commands that measure for minutes call this first, so that a report path that is a
    directory, or lies under a file or a read-only folder, is an error before the
    measuring, not after it (when the results would have nowhere to go).
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{what} {path} is a directory; give a file path")
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InvalidInputError(f"{what} {path}: {folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{what} {path}: cannot write in {folder} "
                                f"({_why_unwritable(folder)})")
    return path


def _why_unwritable(folder: Path) -> str:
    """"read-only file system" or "permission denied": which one to fix."""
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        read_only = False
    return "read-only file system" if read_only else "permission denied"


def make_dirs(path: Path, what: str, *, exist_ok: bool = True) -> Path:
    """``mkdir -p`` that fails as bad input, naming ``what`` (a ``--results-dir`` that is a
    file is the user's to fix, not a crash of ours)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except OSError as exc:
        raise InvalidInputError(f"{what} {path}: cannot create it: "
                                f"{exc.strerror or exc}") from exc
    return path


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; directories cannot be opened on Windows, so skip there."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_stale_temp_files(directory: Path, *,
                           older_than_s: float = STALE_TEMP_AGE_S) -> tuple[Path, ...]:
    """Remove the temporary files dead writers left in ``directory``; those removed.

    Only regular files named as ``_write_temp`` names them and not modified for
    ``older_than_s``; anything else (a user's ``notes.tmp``, a symlink, a folder) stays.
    Never raises: a folder that cannot be listed or a file that cannot be removed is
    left for the next write.
    """
    cutoff = time.time() - older_than_s
    removed: list[Path] = []
    try:
        with os.scandir(directory) as entries:
            stale = [Path(e.path) for e in entries
                     if _TEMP_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)
                     and e.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:
        return ()
    for path in stale:
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    if removed:
        logger.info("removed %d temporary file(s) of interrupted writes in %s",
                    len(removed), directory)
    return tuple(removed)


def _write_temp(path: Path, data: bytes, mode: int) -> str:
    """A temporary file beside ``path`` holding ``data``, flushed to disk, with ``mode``;
    removed again if anything fails."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, data: bytes, *, read_only: bool = False) -> Path:
    """Replace ``path`` with ``data`` atomically; ``read_only`` marks files never rewritten.

    A new file gets the mode ``open()`` would give it; a replaced one keeps its mode.
    Raises ``OSError``; callers turn it into their own error naming what they write.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    # read_only: a reminder, not a guarantee.
    tmp = _write_temp(path, data, 0o444 if read_only else mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    sweep_stale_temp_files(path.parent)
    return path


def write_new_atomic(path: Path, data: bytes) -> Path:
    """Create ``path`` with ``data``, whole or not at all, never replacing a file:
    ``FileExistsError`` if ``path`` exists.

    For archives, whose name must hold one complete copy for ever: a plain ``open("xb")``
    write that failed halfway (a full disk) left a truncated file under that name. The
    temporary file is hard-linked into place (a link, unlike ``os.replace``, fails when the
    target exists), then removed. Raises ``OSError`` otherwise, like ``write_atomic``.
    """
    path = Path(path)
    tmp = _write_temp(path, data, _NEW_FILE_MODE)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:
            # A file system without hard links (FAT, some network mounts): check, then
            # rename. Only a writer racing for the same new name in between could lose.
            if path.exists():
                raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(path.parent)
    sweep_stale_temp_files(path.parent)
    return path
