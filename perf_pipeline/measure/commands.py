"""Run one preparation command (a setup step, an environment build) with a log.

Preparation is not measured, but it is bounded and ended the way a suite is
(``measure/process_group.py``): its own session, the whole process group killed on a timeout,
on an exception and after it exits, and a kernel-enforced death with this process. Its
output is appended to a log file that is kept, because a failed build is only ever
diagnosed from its log.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.measure.process_group import die_with_parent, wait_then_end_group

__all__ = ["CommandResult", "run_logged"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How one command ended. ``error`` is None exactly when it exited with code 0."""

    argv: tuple[str, ...]
    returncode: int | None
    timed_out: bool
    duration_s: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_logged(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout_s: float,
               log_path: Path, what: str) -> CommandResult:
    """Run ``argv`` (no shell) in ``cwd``; append a header and its output to ``log_path``.

    Never raises for a failing command: the result says what happened. ``what`` names the
    step in the error ("setup command 1 of 2").
    """
    argv = tuple(str(a) for a in argv)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    timed_out = False
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(argv)}   (in {cwd}, {what})\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, preexec_fn=die_with_parent())
        except OSError as exc:  # no such program, not executable
            log.write(f"cannot start: {exc}\n".encode())
            return CommandResult(argv, None, False, 0.0,
                                 f"{what} could not start {argv[0]!r}: {exc}")
        timed_out = wait_then_end_group(proc, timeout_s, what)
        duration_s = time.perf_counter() - start
        returncode = None if timed_out else proc.returncode
        log.write(f"[{what}: {'timed out' if timed_out else f'exit code {returncode}'} "
                  f"after {duration_s:.1f} s]\n".encode())
    error = None
    if timed_out:
        error = f"{what} timed out after {timeout_s:g} s and was killed: {' '.join(argv)}"
    elif returncode != 0:
        error = f"{what} failed with exit code {returncode}: {' '.join(argv)}"
    return CommandResult(argv, returncode, timed_out, duration_s, error)
