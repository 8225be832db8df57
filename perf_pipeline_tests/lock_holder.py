"""Another process holding a lock (``file_lock.exclusive_lock``) until told to let go:
the lock tests of several layers need one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["hold_lock", "release"]

_HOLD = """
import sys
from perf_pipeline.file_lock import exclusive_lock as lock
if sys.argv[2] == "measuring":
    from perf_pipeline.measure import measuring_lock as lock
with lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def hold_lock(path: Path, *, measuring: bool = False) -> subprocess.Popen[str]:
    """A process that holds the lock ``path`` (once this returns) until ``release``:
    ``file_lock.exclusive_lock``'s, or with ``measuring`` ``measuring_lock``'s (which
    writes who holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path),
                             "measuring" if measuring else "plain"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    """Tell a ``hold_lock`` process to let go, and wait for it to end."""
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
