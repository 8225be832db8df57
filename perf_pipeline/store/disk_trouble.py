"""Why SQLite could not write: a full disk, a read-only folder, or the disk itself.

SQLite reports a file system's refusal in its own words, none of which names the cause:
a full disk is "disk I/O error" as often as "database or disk is full" (the WAL index
``-shm`` cannot grow, a quota is reached), and a folder on a read-only mount is "unable
to open database file" (the ``-wal`` and ``-shm`` files beside the db cannot be
created), although the db itself is right there and readable. So when SQLite fails
with one of those, the folder holding the db is looked at and what is wrong with it is
added to the message.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

__all__ = ["disk_trouble"]

#: SQLite's primary result codes that a file system's refusal produces.
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_FULL = 8, 10, 14, 13
_TROUBLE_CODES = frozenset({_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_FULL})
#: The same, by message, where Python (before 3.11) does not give the code.
_TROUBLE_WORDS = ("disk i/o error", "disk is full", "readonly database",
                  "unable to open database file")
#: Less free space than this, at a write that failed, is taken for a full disk.
_NEARLY_FULL_BYTES = 64 << 20


def _is_file_system_error(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _TROUBLE_CODES
    text = str(exc).lower()
    return any(word in text for word in _TROUBLE_WORDS)


def _size_text(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def disk_trouble(exc: sqlite3.Error, db_path: Path) -> str | None:
    """What is wrong with the folder of ``db_path``, if ``exc`` is a file system's
    refusal and the folder shows why; None otherwise (the message is then SQLite's).

    Never raises: a folder that cannot even be looked at gets no hint.
    """
    if not _is_file_system_error(exc):
        return None
    folder = Path(os.path.abspath(db_path)).parent
    try:
        fs = os.statvfs(folder)
    except (OSError, AttributeError):  # gone, or no statvfs (Windows)
        return None
    if fs.f_flag & getattr(os, "ST_RDONLY", 1):
        return (f"the file system holding {folder} is mounted read-only; SQLite must "
                f"write the db and its -wal and -shm files there")
    free = fs.f_bavail * fs.f_frsize
    code = getattr(exc, "sqlite_errorcode", None)
    full = (code & 0xFF) == _SQLITE_FULL if isinstance(code, int) else "full" in str(exc)
    if full or free < _NEARLY_FULL_BYTES:
        return (f"the disk holding {folder} is full ({_size_text(free)} free); "
                "free some space and run again")
    if not os.access(folder, os.W_OK | os.X_OK):
        return (f"cannot write in {folder} (permission denied); SQLite must create the "
                "db's -wal and -shm files there")
    if db_path.exists() and not os.access(db_path, os.W_OK):
        return f"the db file {db_path} is read-only (permission denied)"
    io_error = ((code & 0xFF) == _SQLITE_IOERR if isinstance(code, int)
                else "disk i/o error" in str(exc).lower())
    if io_error:
        return (f"the file system holding {folder} failed a read or write: a failing "
                "disk, or a network mount without working file locks, which SQLite needs")
    return None
