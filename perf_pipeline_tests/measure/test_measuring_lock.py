"""One measuring process at a time on this machine (``measure/measuring_lock.py``)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest

from perf_pipeline.config import MEASURING_LOCK_ENV, Settings, load_settings
from perf_pipeline.measure import holder_of, measure_commit, measuring_lock
from perf_pipeline.measure import session as session_module
from perf_pipeline_tests.lock_holder import hold_lock, release


def test_the_lock_waits_for_another_process_and_says_so_in_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lock = tmp_path / "locks" / "measuring.lock"
    holder = hold_lock(lock)
    got = threading.Event()

    def take() -> None:
        with measuring_lock(lock):
            got.set()

    taker = threading.Thread(target=take)
    with caplog.at_level(logging.WARNING, logger="perf_pipeline.measure.measuring_lock"):
        taker.start()
        assert not got.wait(1.0), "taken while another process held it"
        release(holder)
        taker.join(30)
    assert got.is_set()
    assert [r.getMessage() for r in caplog.records] == [
        f"another measuring process on this machine holds {lock}; waiting for it to finish "
        "(measurements that overlap corrupt each other)"]


def test_who_waits_is_told_who_holds_it_and_nothing_is_left_once_let_go(
        tmp_path: Path) -> None:
    """"Another measuring process holds it" left the user to find which one (ps, lsof)."""
    lock = tmp_path / "measuring.lock"
    holder = hold_lock(lock, measuring=True)
    try:
        held_by = holder_of(lock)
        assert re.fullmatch(rf" \(pid {holder.pid}, python -c, since \d{{4}}-\d\d-\d\d "
                            r"\d\d:\d\d:\d\d UTC\)", held_by), held_by
    finally:
        release(holder)
    assert holder_of(lock) == ""  # a later waiter is not told of a process long gone


def test_one_thread_takes_it_again_at_once_and_another_thread_waits(tmp_path: Path) -> None:
    """A run holds it for all its processes and each process takes it again: that must
    not wait for itself. Another thread of the same process (Dagster's threads, a
    library caller's) must wait like another process."""
    lock = tmp_path / "measuring.lock"
    other_got = threading.Event()

    def other() -> None:
        with measuring_lock(lock, on_wait=lambda: None):
            other_got.set()

    with measuring_lock(lock):
        with measuring_lock(lock, on_wait=pytest.fail):  # re-entered: never waits
            thread = threading.Thread(target=other)
            thread.start()
            assert not other_got.wait(0.5)
        assert not other_got.wait(0.5), "the inner release let the lock go"
    thread.join(30)
    assert other_got.is_set()


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


def test_a_run_measures_only_once_another_measuring_process_let_go(
        tiny_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``perf-pipeline run`` (and ``ab``, ``calibrate``, ``profile``, ``stress``) took no
    lock at all: only Dagster's measuring steps did, so a CLI run measured beside them."""
    settings = Settings(repo_path=tiny_target.repo, project_subdir=".",
                        results_dir=tmp_path / "results", benchmark_paths=("tests",),
                        pytest_args=tiny_target.pytest_args, processes=1,
                        measuring_lock=tmp_path / "measuring.lock")
    started = threading.Event()
    real_run_suite = session_module.run_suite

    def run_suite(*args: object, **kwargs: object):  # the real one, seen starting
        started.set()
        return real_run_suite(*args, **kwargs)

    monkeypatch.setattr(session_module, "run_suite", run_suite)
    holder = hold_lock(settings.measuring_lock_path)
    runs = []
    measuring = threading.Thread(target=lambda: runs.append(
        measure_commit(settings, tiny_target.shas[0])))
    measuring.start()
    try:
        assert not started.wait(2.0), "it measured while another process held the lock"
    finally:
        release(holder)
        measuring.join(120)
    assert started.is_set() and runs and runs[0].benchmarks


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


@pytest.mark.parametrize(("argv", "said"), [
    (["/venv/bin/perf-pipeline", "ab", "main", "HEAD"], "perf-pipeline ab"),
    (["/x/perf_pipeline/__main__.py", "run", "HEAD"], "perf_pipeline run"),
    (["/venv/bin/dagster", "asset", "materialize"], "dagster asset"),
    (["nightly.py", "postgresql://perf:s3cret@db/perf"], "nightly.py"),
    (["/x/pytest/__main__.py", "tests/test_a.py"], "pytest"),
])
def test_the_holder_text_names_a_command_never_an_argument(
        argv: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script measuring through the library with its history URL as first argument
    wrote that URL, password and all, into the lock file every waiter prints."""
    monkeypatch.setattr("sys.argv", argv)
    lock = tmp_path / "measuring.lock"
    with measuring_lock(lock):
        text = lock.read_text()
    assert re.fullmatch(rf"pid \d+, {re.escape(said)}, since .* UTC", text), text


def test_the_holder_text_is_never_written_through_a_symlink_or_a_second_name(
        tmp_path: Path) -> None:
    """The default lock of a user without a writable home is a fixed name in the shared
    temp folder: another user made it a symlink to one of this user's files, and taking
    the lock emptied that file."""
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    (tmp_path / "trap").mkdir()
    for lock, how in ((tmp_path / "trap" / "measuring.lock", "symlink_to"),
                      (tmp_path / "trap" / "linked.lock", "hardlink_to")):
        getattr(lock, how)(precious)
        with measuring_lock(lock):
            assert precious.read_text() == "keep me"
        assert precious.read_text() == "keep me"


def test_a_hold_abandoned_to_the_garbage_collector_never_lets_go_of_a_later_hold(
        tmp_path: Path) -> None:
    """An A/B's rounds (a generator holding the lock, in a reference cycle with their
    ``ABRounds``) abandoned without ``close()``: the collector ended that hold in the
    middle of a later hold of the thread, which let the lock go while it measured and then
    failed with ``KeyError``."""
    import gc

    from perf_pipeline.file_lock import exclusive_lock

    lock = tmp_path / "measuring.lock"

    class Rounds:  # the shape of ABRounds: the generator refers back to its owner
        def __init__(self) -> None:
            self.gen = self.generate()

        def generate(self):
            with measuring_lock(lock):
                yield self

    gc.disable()
    try:
        rounds = Rounds()
        next(rounds.gen)
        del rounds  # abandoned without close()
        with measuring_lock(lock):
            gc.collect()
            with exclusive_lock(lock, blocking=False) as taken_beside:  # a second open
                assert taken_beside is False, "the lock was let go in the middle of a hold"
        with exclusive_lock(lock, blocking=False) as taken_after:
            assert taken_after is True  # the last hold's end let it go
    finally:
        gc.enable()
