"""One measuring process at a time on this machine (``measure/measuring_lock.py``)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
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
