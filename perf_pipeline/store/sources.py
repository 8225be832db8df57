"""Which file each ingested run came from: incremental ingest without parsing.

An ingest walks a results dir that holds every raw run ever measured. Parsing each
run's JSON again to learn its ``run_id`` (and find it already stored) costs seconds per
run for fast benchmarks with millions of samples, so the store remembers, per source,
the size and modification time it had when its run was stored. A source whose stamp is
unchanged is known without being opened. A raw run dir is stamped by its ``run.json``,
which is written last and never rewritten (``measure/raw.py``); a foreign
pytest-benchmark file by itself, so editing it makes it new again (its run id is the
hash of its bytes, so new contents are a new run).

Paths are stored absolute (``os.path.abspath``: no symlink resolution, no syscall), so
the same results dir reached by a relative and an absolute path is one source.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SourceStamp", "read_sources", "record_source", "source_stamp"]


@dataclass(frozen=True, slots=True)
class SourceStamp:
    """A source file's absolute path, size in bytes and mtime in nanoseconds."""

    path: str
    size: int
    mtime_ns: int


def source_stamp(path: Path | str) -> SourceStamp:
    """The stamp of ``path`` now (one ``stat``); ``OSError`` if it cannot be read."""
    info = os.stat(path)
    return SourceStamp(path=os.path.abspath(path), size=info.st_size, mtime_ns=info.st_mtime_ns)


def read_sources(conn: sqlite3.Connection) -> dict[str, tuple[SourceStamp, str]]:
    """Every recorded source: path -> (stamp, run id), in one query."""
    return {path: (SourceStamp(path, size, mtime_ns), run_id)
            for path, size, mtime_ns, run_id in conn.execute(
                "SELECT path, size, mtime_ns, run_id FROM sources")}


def record_source(conn: sqlite3.Connection, stamp: SourceStamp, run_id: str, *,
                  recorded_at: str) -> None:
    """Remember that ``stamp`` holds ``run_id``; the caller holds the transaction."""
    conn.execute(
        "INSERT INTO sources (path, size, mtime_ns, run_id, recorded_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
        "mtime_ns = excluded.mtime_ns, run_id = excluded.run_id, "
        "recorded_at = excluded.recorded_at",
        (stamp.path, int(stamp.size), int(stamp.mtime_ns), run_id, recorded_at))
