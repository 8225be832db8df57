"""A watchdog that ends a suite's whole process group if this process dies by SIGKILL.

``PR_SET_PDEATHSIG`` (process_group.py) makes the kernel kill the suite's first process when we
die, but only that one: a benchmark's own child (a server, a worker pool, a
``subprocess`` that sleeps) is re-parented to init and runs on. No code of ours runs
after a SIGKILL, so another process has to notice. The watchdog is a tiny Python
process in a session of its own (terminal signals do not reach it) whose stdin is the
read end of a pipe; only we hold the write end (``os.pipe`` fds are not inherited by
the programs we start). We write it the group ids to watch. When we die, for any
reason, the kernel closes the write end, the watchdog's read returns end-of-file and
it SIGKILLs those groups. When the suite has ended normally we write "stand down"
first and it exits without touching them: by then a group id may be someone else's.

What it cannot catch: a process that leaves the group on purpose (``setsid``, a double
fork into a new session, as daemons do). Only a cgroup could hold those.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["GroupWatchdog", "group_watchdog"]

logger = logging.getLogger(__name__)

#: Run with ``-I -S``: no site, no user paths, so it starts in ~15 ms and imports
#: nothing from the target or from us. Protocol on stdin: ``<pgid>\n`` per group to
#: watch, then ``.`` to stand down; end-of-file before ``.`` means we are dead.
_WATCHDOG = """
import os, signal
for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
data = b""
while True:
    chunk = os.read(0, 256)
    if not chunk:
        break
    data += chunk
    if b"." in data:
        raise SystemExit(0)
for pgid in data.split():
    try:
        os.killpg(int(pgid), signal.SIGKILL)
    except (OSError, ValueError):
        pass
"""
_STAND_DOWN = b"."
_WAIT_S = 5.0


class GroupWatchdog:
    """The parent's side of a running watchdog: ``watch`` a group id to guard it."""

    def __init__(self, write_end: int | None) -> None:
        self._fd = write_end

    def watch(self, pgid: int) -> None:
        """SIGKILL process group ``pgid`` if this process dies before standing down."""
        if self._fd is None:
            return
        try:
            os.write(self._fd, f"{int(pgid)}\n".encode())
        except OSError as exc:  # the watchdog is gone: PR_SET_PDEATHSIG still holds
            logger.warning("the watchdog of process group %d is gone: %s", pgid, exc)


@contextlib.contextmanager
def group_watchdog() -> Iterator[GroupWatchdog]:
    """A watchdog for the groups ``watch``ed inside the block; stood down on leaving.

    Where it cannot start (no process groups, no fork), ``watch`` does nothing and
    only ``PR_SET_PDEATHSIG`` guards the suite, as before; that is logged.
    """
    if os.name != "posix":
        yield GroupWatchdog(None)
        return
    read_end, write_end = os.pipe()  # both close-on-exec: no suite inherits them
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            close_fds=True)
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        logger.warning("no watchdog for the suite's process group: %s", exc)
        yield GroupWatchdog(None)
        return
    os.close(read_end)
    try:
        yield GroupWatchdog(write_end)
    finally:
        with contextlib.suppress(OSError):  # BrokenPipeError if it is already gone
            os.write(write_end, _STAND_DOWN)
        os.close(write_end)
        try:
            watchdog.wait(timeout=_WAIT_S)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()
