"""The one lock processes take turns through (``perf_pipeline/file_lock.py``)."""

from __future__ import annotations

from pathlib import Path

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
