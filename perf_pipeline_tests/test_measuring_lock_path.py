"""The default measuring lock file (``measuring_lock_path.py``): this user's on this
machine, whatever the results dir, and a folder of its own in the temp dir when the home
cannot hold it."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.config import Settings, load_settings
from perf_pipeline.config_env import MEASURING_LOCK_ENV
from perf_pipeline.measure import measuring_lock


def test_two_results_dirs_share_the_machines_lock_and_the_setting_moves_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock was the results dir's: two projects measured on one benchmark box, or one
    with two results dirs, measured at the same time."""
    monkeypatch.delenv(MEASURING_LOCK_ENV, raising=False)  # conftest.py's per-worker lock
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    one, two = Settings(results_dir=tmp_path / "a"), Settings(results_dir=tmp_path / "b")
    assert one.measuring_lock_path == two.measuring_lock_path == (
        tmp_path / "cache" / "perf_pipeline" / "measuring.lock")
    shared = tmp_path / "shared" / "measuring.lock"
    assert Settings(measuring_lock=shared).measuring_lock_path == shared
    monkeypatch.setenv(MEASURING_LOCK_ENV, str(shared))
    assert load_settings(environ={MEASURING_LOCK_ENV: str(shared)}).measuring_lock == shared
    assert Settings().measuring_lock_path == shared  # built without load_settings too


def test_a_home_that_cannot_be_written_moves_the_default_lock_to_the_temp_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """User nobody (HOME=/nonexistent), a container run with ``--user`` and HOME=/: every
    measuring command failed with "measuring lock ~/.cache/...: cannot create it", where
    measuring needs no home at all."""
    import tempfile

    monkeypatch.delenv(MEASURING_LOCK_ENV, raising=False)  # conftest.py's per-worker lock
    cache = tmp_path / "not-a-folder"  # no folder can be made in it, not even by root
    cache.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    lock = Settings().measuring_lock_path
    assert lock.is_relative_to(tmp_path / "tmp")
    with measuring_lock(lock):
        assert lock.is_file()
    assert Settings().measuring_lock_path == lock  # every process of the user: the same


def test_a_temp_lock_folder_another_user_made_is_refused_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback folder's name is known to every local user: one who made it first
    could hold this user's measuring lock for ever (every measuring command waited)."""
    import os
    import tempfile

    from perf_pipeline.errors import InvalidInputError

    monkeypatch.delenv(MEASURING_LOCK_ENV, raising=False)
    cache = tmp_path / "not-a-folder"
    cache.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    planted = tmp_path / "tmp" / f"perf_pipeline-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)  # as another user would leave it for us
    with pytest.raises(InvalidInputError, match="set PERF_PIPELINE_MEASURING_LOCK"):
        _ = Settings().measuring_lock_path
    planted.chmod(0o755)
    if os.getuid() == 0:  # root can make it another user's, as it would be
        os.chown(planted, 65534, 65534)
        with pytest.raises(InvalidInputError, match="belongs to another user"):
            _ = Settings().measuring_lock_path
        os.chown(planted, 0, 0)
    assert Settings().measuring_lock_path.is_relative_to(planted)  # its own: used
