"""End a child's whole process group, whatever happens to us.

The child runs in its own session (its own process group), so on a timeout the WHOLE
group is ended: SIGTERM, a short grace period, then SIGKILL. After a normal exit the
group gets a SIGKILL too, so a child cannot leave stray processes behind. Any exception
while it runs (Ctrl-C, or SIGTERM/SIGHUP turned into one by the CLI) ends the group the
same way. If this process is SIGKILLed, nothing here runs, so on Linux the child is also
tied to our life with ``PR_SET_PDEATHSIG`` (``die_with_parent``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable

__all__ = ["die_with_parent", "wait_then_end_group"]

logger = logging.getLogger(__name__)

_TERM_GRACE_S = 3.0

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel SIGKILL the child when we die (Linux only).

    The libc function is looked up here, in the parent: between fork and exec the child
    may only make plain system calls. If we died before the child set the flag, it has
    already been re-parented, and it kills itself instead of running orphaned.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sigkill)

    return preexec


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _end_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's group, wait a little, then SIGKILL whatever is left."""
    _kill_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_TERM_GRACE_S)
    _kill_group(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_then_end_group(proc: subprocess.Popen, timeout_s: float, what: str) -> bool:
    """Wait for ``proc`` (a session leader) at most ``timeout_s``; then end its whole
    process group: gracefully after a timeout or an interruption (re-raised), by SIGKILL of
    the stragglers it left behind otherwise. Returns whether it timed out."""
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("%s timed out after %s s; killing it", what, timeout_s)
        _end_process_group(proc)
        return True
    except BaseException:
        _end_process_group(proc)
        raise
    _kill_group(proc.pid, signal.SIGKILL)
    return False
