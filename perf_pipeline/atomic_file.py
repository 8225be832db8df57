"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file perf_pipeline writes (raw run records, the baseline, analyses, reports) goes
through here: a temporary file in the same directory, flushed to disk, then
``os.replace``. One place, so durability and cleanup rules cannot drift apart.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["fsync_dir", "write_atomic"]


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; directories cannot be opened on Windows, so skip there."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, read_only: bool = False) -> Path:
    """Replace ``path`` with ``data`` atomically; ``read_only`` marks files never rewritten.

    Raises ``OSError``; callers turn it into their own error naming what they write.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if read_only:
            os.chmod(tmp, 0o444)  # a reminder, not a guarantee
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path
