"""Temporary folders of measuring runs: named for their owner, swept when it is gone.

A measuring process keeps a suite's output files, its JSON and a staged plugin in
``$TMPDIR/perf-pipeline-<kind>-<pid>-<random>``. ``TemporaryDirectory`` removes them on
every exit Python sees (including SIGTERM and SIGHUP, which the CLI turns into
exceptions), but not after SIGKILL or a power cut. So every measuring command first
sweeps the folders whose owner process no longer exists. A folder of a live process,
of another user, or without a pid in its name (an older version's) is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["measuring_temp_dir", "sweep_stale_temp_dirs"]

logger = logging.getLogger(__name__)

_PREFIX = "perf-pipeline-"
_NAME = re.compile(r"perf-pipeline-([a-z]+)-(\d+)-[A-Za-z0-9_]+")


def measuring_temp_dir(kind: str) -> tempfile.TemporaryDirectory[str]:
    """A self-removing temp folder whose name says which process owns it."""
    return tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{kind}-{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OverflowError:
        return False  # not a possible pid
    return True


def sweep_stale_temp_dirs(root: Path | None = None) -> tuple[Path, ...]:
    """Remove our temp folders under ``root`` (the temp dir) whose owner process is dead."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        logger.debug("cannot list %s to sweep stale temp folders: %s", root, exc)
        return ()
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if hasattr(os, "getuid") and entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        logger.info("removed %s, left behind by process %d", entry.path, pid)
        removed.append(Path(entry.path))
    return tuple(removed)
