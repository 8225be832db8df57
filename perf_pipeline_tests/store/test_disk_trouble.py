"""SQLite's words for a file system's refusal ("disk I/O error", "unable to open database
file") get the reason the folder shows: full, mounted read-only, not writable."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from perf_pipeline.errors import StoreError
from perf_pipeline.store import HistoryStore
from perf_pipeline.store import disk_trouble as module
from perf_pipeline.store import ingest as ingest_module
from perf_pipeline.store.disk_trouble import disk_trouble

from .conftest import make_run


def _statvfs(*, free: int, read_only: bool = False) -> object:
    return SimpleNamespace(f_bavail=free // 4096, f_frsize=4096,
                           f_flag=os.ST_RDONLY if read_only else 0)


@pytest.mark.skipif(not hasattr(os, "statvfs"), reason="POSIX statvfs")
def test_a_disk_io_error_on_a_full_disk_says_the_disk_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.db"
    with HistoryStore.open(db) as store:
        def full(*_a: object, **_k: object) -> bool:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(ingest_module, "write_run", full)
        monkeypatch.setattr(module.os, "statvfs", lambda _p: _statvfs(free=0))
        with pytest.raises(StoreError, match=rf"disk I/O error \(the disk holding "
                                             rf"{tmp_path} is full \(0 B free\); free"):
            store.ingest_run(make_run(1))


@pytest.mark.skipif(not hasattr(os, "statvfs"), reason="POSIX statvfs")
def test_a_read_only_mount_and_an_unwritable_folder_are_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cantopen = sqlite3.OperationalError("unable to open database file")
    monkeypatch.setattr(module.os, "statvfs",
                        lambda _p: _statvfs(free=1 << 40, read_only=True))
    assert "mounted read-only" in (disk_trouble(cantopen, tmp_path / "h.db") or "")
    monkeypatch.setattr(module.os, "statvfs", lambda _p: _statvfs(free=1 << 40))
    monkeypatch.setattr(module.os, "access", lambda _p, _m: False)
    assert f"cannot write in {tmp_path}" in (disk_trouble(cantopen, tmp_path / "h.db") or "")


def test_other_errors_and_a_healthy_folder_get_no_hint(tmp_path: Path) -> None:
    assert disk_trouble(sqlite3.OperationalError("no such table: runs"), tmp_path / "h.db") \
        is None
    if hasattr(os, "statvfs") and os.statvfs(tmp_path).f_bavail * os.statvfs(
            tmp_path).f_frsize > 1 << 30:
        assert disk_trouble(sqlite3.OperationalError("database is locked"),
                            tmp_path / "h.db") is None
        # space and permissions are fine: say what else makes SQLite report an I/O error
        assert "network mount without working file locks" in (disk_trouble(
            sqlite3.OperationalError("disk I/O error"), tmp_path / "h.db") or "")
