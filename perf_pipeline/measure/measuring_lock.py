"""One measuring process at a time on this machine, whoever started it.

Overlapping measurements on one machine corrupt each other: a parallel run once produced
a false +24 % "regression". Dagster's ``benchmark_machine`` pool keeps the run queue from
starting a second run with a measuring step, but nothing else did: a run executed in
process (``perf-pipeline backfill`` and ``demo``, ``dagster asset materialize``), a
``perf-pipeline run``/``ab``/``calibrate``/``profile``/``stress`` beside it, or two
projects with two results dirs on one benchmark box measured at the same time. So every
measuring session holds this lock (``file_lock``): the Dagster step for its body, a run
for all its processes, an A/B for all its rounds (so waiting never eats its time
budget), and, as the net under all of them, every pytest process
(``session.run_prepared``). The kernel releases it when its holder dies, however it
dies, so it can never be left stale.

The lock is this user's on this machine (``Settings.measuring_lock_path``): point the
``measuring_lock`` setting at one file to make several users, or containers sharing a
mount, take turns too.

It is re-entrant within a thread (the session holds it, its processes take it again),
and exclusive between threads and processes: a second thread opens the file again and
``flock`` makes it wait like any other process. A generator that holds it across
``yield`` (an A/B's rounds) lends its hold to whichever thread resumes it (``lent_hold``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.file_lock import exclusive_lock

__all__ = ["holds_of_this_thread", "lent_hold", "measuring_lock"]

_log = logging.getLogger(__name__)
#: Per thread: each lock file (absolute path) it holds, and how many times.
_held = threading.local()


def _say_waiting(path: Path) -> Callable[[], None]:
    def waiting() -> None:
        _log.warning("another measuring process on this machine holds %s%s; waiting for "
                     "it to finish (measurements that overlap corrupt each other)", path,
                     holder_of(path))
    return waiting


#: Programs whose first argument, when not an option, is a subcommand (``perf-pipeline
#: ab``, ``dagster asset``). Any other program's first argument is just an argument: a
#: script's ``postgresql://user:password@...`` was written into the lock file.
_SUBCOMMAND_PROGRAMS = frozenset({"perf-pipeline", "perf_pipeline", "dagster"})


def _holder_text() -> str:
    """Who holds the lock, for those who wait: the pid, the program and its command (not
    its arguments: a ``--history`` URL may hold a password), since when."""
    argv = list(sys.argv)
    if not argv or argv[0] in ("", "-c"):  # ``python -c``: its arguments are not a command
        program, command = ["python", *argv[:1]], []
    else:
        main = Path(argv[0])  # ``python -m perf_pipeline``: .../perf_pipeline/__main__.py
        program = [main.parent.name if main.name == "__main__.py" else main.name]
        command = (argv[1:2] if program[0] in _SUBCOMMAND_PROGRAMS and len(argv) > 1
                   and not argv[1].startswith("-") else [])
    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()}, {' '.join(program + command) or 'python'}, since {since}"


def holder_of(path: Path) -> str:
    """`` (pid 123, perf-pipeline ab, since ...)``, as the holder wrote it; empty if
    it wrote nothing (an older version, or it is just starting)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")[:300]
    except OSError:
        return ""
    text = "".join(c for c in text if c.isprintable()).strip()
    return f" ({text})" if text else ""


def _write_holder(path: Path, text: str) -> None:
    """Best effort: the lock works whether or not this is written. Only into the lock
    file itself: never through a symlink, nor into a file with other names. The default
    lock of a user without a writable home lies in the shared temp folder, where another
    user could make it a symlink to one of this user's files, which this then emptied."""
    flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(OSError):
        fd = os.open(path, flags)
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                os.ftruncate(fd, 0)
                os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)


@contextlib.contextmanager
def measuring_lock(path: Path, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the measuring lock file ``path`` (``Settings.measuring_lock_path``); at once if
    this thread already holds it. ``on_wait`` is called once if another holder makes us
    wait (default: a warning in the log, which the CLI prints).

    The thread's holds share one lock, let go when the last of them ends, whichever that
    is: an A/B's rounds abandoned without ``close()`` end their hold only when the garbage
    collector finds them, possibly in the middle of a later hold of the thread, which
    then measured without the lock and failed at its end (``KeyError``)."""
    key = os.path.abspath(path)
    holds = holds_of_this_thread()  # [ExitStack, depth] per key
    if key in holds:
        holds[key][1] += 1
    else:
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(exclusive_lock(Path(key),
                                               on_wait=on_wait or _say_waiting(Path(key))))
        except OSError as exc:  # a read-only folder: bad input, not a crash
            raise InvalidInputError(
                f"measuring lock {key} (setting measuring_lock, PERF_PIPELINE_MEASURING_LOCK):"
                f" cannot create it: {exc.strerror or exc}") from exc
        holds[key] = [stack, 1]
        _write_holder(Path(key), _holder_text())
    try:
        yield
    finally:
        _release(holds, key)


def _release(holds: dict[str, list], key: str) -> None:
    """End one hold of ``key`` in ``holds`` (the dict of the thread that took it, even if
    the garbage collector ends the hold in another thread); the last one lets go."""
    holds[key][1] -= 1
    if holds[key][1] == 0:
        stack = holds.pop(key)[0]
        _write_holder(Path(key), "")  # still held: the next holder writes its own
        stack.close()


def holds_of_this_thread() -> dict[str, list]:
    """The measuring locks this thread holds (for ``lent_hold``)."""
    return _held.__dict__.setdefault("holds", {})


@contextlib.contextmanager
def lent_hold(holds: dict[str, list], path: Path) -> Iterator[None]:
    """Make the hold of ``path`` in ``holds`` (``holds_of_this_thread()`` of the thread
    that started a generator holding it) this thread's too for the block. A generator
    that holds the lock across ``yield`` (an A/B's rounds) resumed in another thread
    (``run_in_executor``, a thread pool) waited in its ``run_prepared`` for the lock its
    own process held, for ever."""
    key = os.path.abspath(path)
    mine = holds_of_this_thread()
    lent = holds.get(key) if key not in mine else None
    if lent is not None:
        mine[key] = lent
    try:
        yield
    finally:
        if lent is not None and mine.get(key) is lent:
            del mine[key]
