"""The one lock processes take turns through (``perf_pipeline/file_lock.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perf_pipeline.file_lock import exclusive_lock
from perf_pipeline_tests.lock_holder import hold_lock, release


def test_another_process_holding_it_is_seen_and_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "x.lock"  # its folder is made
    proc = hold_lock(path)
    try:
        with exclusive_lock(path, blocking=False) as held:
            assert held is False
    finally:
        release(proc)
    waited: list[int] = []
    with exclusive_lock(path, on_wait=lambda: waited.append(1)) as held:
        assert held is True
    assert waited == []  # free again: no wait


def test_a_folder_is_locked_itself_without_a_lock_file_beside_its_files(tmp_path: Path) -> None:
    proc = hold_lock(tmp_path)
    try:
        with exclusive_lock(tmp_path, blocking=False) as held:
            assert held is False
    finally:
        release(proc)
    with exclusive_lock(tmp_path) as held:
        assert held is True
    assert list(tmp_path.iterdir()) == []


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    proc = hold_lock(path)
    proc.kill()
    proc.wait(timeout=30)
    with exclusive_lock(path, blocking=False) as held:
        assert held is True


def test_another_users_lock_file_is_taken_read_only(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """One measuring lock on a shared mount for several users (README): the file another
    user made is 0644, the open for writing was refused, and the second user got "cannot
    create it: Permission denied" instead of taking turns. ``flock`` needs no write access.
    (Root may write any file, so the refusal is simulated.)"""
    path = tmp_path / "shared.lock"
    path.write_text("")
    real_open = os.open

    def open_as_another_user(file: object, flags: int, *args: object) -> int:
        if Path(str(file)) == path and flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", open_as_another_user)
    with exclusive_lock(path) as held:
        assert held is True
        monkeypatch.setattr(os, "open", real_open)
        proc = subprocess.run(  # another process: it must wait, the lock is really held
            [sys.executable, "-c", "import sys\nfrom perf_pipeline.file_lock import "
             "exclusive_lock\nwith exclusive_lock(sys.argv[1], blocking=False) as held:\n"
             "    print(held)", str(path)], capture_output=True, text=True, timeout=60)
        assert proc.stdout.strip() == "False", proc.stderr


_WAITER = """
import sys, time
from perf_pipeline.file_lock import exclusive_lock
with exclusive_lock(sys.argv[1], on_wait=lambda: print("waiting", flush=True)):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_waiter_for_a_lock_file_its_holder_deleted_locks_the_new_file(
        tmp_path: Path) -> None:
    """A pruned worktree's lock file is deleted by whoever holds it. A process already
    waiting on the deleted file got it and went on, beside a newcomer who locked a new
    file of that name: two holders of one lock. The waiter takes the new file's lock.
    (``remove_held_lock`` is this unlink.)"""
    path = tmp_path / "x.lock"
    with exclusive_lock(path) as held:
        assert held is True
        waiter = subprocess.Popen([sys.executable, "-c", _WAITER, str(path)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert waiter.stdout is not None and waiter.stdout.readline().strip() == "waiting"
        path.unlink()
    try:
        assert waiter.stdout.readline().strip() == "held"
        with exclusive_lock(path, blocking=False) as newcomer:
            assert newcomer is False  # the waiter holds the file of that name
    finally:
        assert waiter.stdin is not None
        waiter.stdin.write("\n")
        waiter.stdin.close()
        assert waiter.wait(timeout=30) == 0
