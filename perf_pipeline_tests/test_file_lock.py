"""The one lock processes take turns through (``perf_pipeline/file_lock.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from perf_pipeline.file_lock import exclusive_lock

_HOLD = """
import sys, time
from perf_pipeline.file_lock import exclusive_lock
with exclusive_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    """Tell a ``_holder`` to let go, and wait for it to end."""
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.close()
    proc.wait(timeout=30)


def test_another_process_holding_it_is_seen_and_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "x.lock"  # its folder is made
    proc = _holder(path)
    try:
        with exclusive_lock(path, blocking=False) as held:
            assert held is False
    finally:
        _release(proc)
    waited: list[int] = []
    with exclusive_lock(path, on_wait=lambda: waited.append(1)) as held:
        assert held is True
    assert waited == []  # free again: no wait


def test_a_folder_is_locked_itself_without_a_lock_file_beside_its_files(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with exclusive_lock(tmp_path, blocking=False) as held:
            assert held is False
    finally:
        _release(proc)
    with exclusive_lock(tmp_path) as held:
        assert held is True
    assert list(tmp_path.iterdir()) == []


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    proc = _holder(path)
    proc.kill()
    proc.wait(timeout=30)
    with exclusive_lock(path, blocking=False) as held:
        assert held is True
