"""Exit codes, and the ONE place where errors and signals become them.

0 no significant regression · 1 significant regression · 2 bad usage or bad input ·
3 internal error (a bug: one line on the console, the traceback in a log file) ·
128 + N killed by signal N (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path

from perf_pipeline.errors import Interrupted, PerfPipelineError, interruption_text

__all__ = ["ExitCode", "Failure", "SignalGuard", "run_guarded"]


class ExitCode(IntEnum):
    OK = 0
    REGRESSION = 1
    BAD_INPUT = 2
    INTERNAL_ERROR = 3
    SIGINT = 130
    OUTPUT_CLOSED = 141  # 128 + SIGPIPE


_HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                         if hasattr(signal, name))


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a command ended without a result: what to print and which code to return.

    ``kind`` is ``"error"`` (bad input), ``"internal"`` (a bug, ``crash_log`` has the
    traceback) or ``"interrupted"`` (a signal).
    """

    exit_code: int
    kind: str
    message: str
    crash_log: Path | None = None

    @property
    def console_line(self) -> str:
        if self.kind == "error":
            return f"error: {self.message}"
        if self.kind == "internal":
            return (f"internal error (a bug in perf_pipeline): {self.message}; "
                    f"traceback in {self.crash_log}")
        return self.message


class SignalGuard:
    """While a measuring command runs, SIGTERM and SIGHUP raise ``Interrupted``.

    Only the first signal raises: a second one must not cut short the cleanup the first
    started (ending the suite's process group, recording the failed run).
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:
            return
        self.received = signum
        raise Interrupted(signum)

    def __enter__(self) -> SignalGuard:
        for sig in _HANDLED_SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals to the host
                break
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def write_crash_log(exc: BaseException, argv: Sequence[str] | None) -> Path:
    """The traceback of an internal error, in a file of its own (the console gets one line)."""
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    fd, name = tempfile.mkstemp(prefix=f"perf-pipeline-crash-{stamp}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
        command = list(sys.argv[1:2] if argv is None else argv[:1])
        fh.write(f"perf-pipeline {' '.join(command)}: internal error\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=fh)
    return Path(name)


class OutputClosed(Exception):
    """The reader of our stdout went away (``perf-pipeline analyze | head``)."""


def output_closed() -> Failure:
    """What a closed stdout exits with: 128 + SIGPIPE (141), as a shell reports a
    process SIGPIPE killed; never 1, which says "significant regression" (rich's own
    handling exited 1). Later writes to stdout go to the null device, so nothing more
    fails on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to redirect
        pass
    return Failure(ExitCode.OUTPUT_CLOSED, "interrupted", "the output was closed")


def _interrupted(signum: int) -> Failure:
    return Failure(128 + signum, "interrupted", interruption_text(Interrupted(signum)))


def run_guarded(command: Callable[[], int], *, measuring: bool,
                argv: Sequence[str] | None) -> int | Failure:
    """Run ``command``; its exit code, or the ``Failure`` an exception maps to.

    ``measuring`` commands run suites: SIGTERM/SIGHUP end the suite and record the run as
    failed, then the command exits 128 + N. A library that wraps our ``Interrupted`` in
    its own exception (Dagster does) still exits as interrupted.
    """
    guard = SignalGuard()
    try:
        if measuring:
            with guard:
                return int(command())
        return int(command())
    except PerfPipelineError as exc:
        return Failure(ExitCode.BAD_INPUT, "error", str(exc))
    except (OutputClosed, BrokenPipeError):
        return output_closed()
    except Interrupted as exc:
        return Failure(exc.exit_code, "interrupted", interruption_text(exc))
    except KeyboardInterrupt:
        return Failure(ExitCode.SIGINT, "interrupted", "interrupted")
    except Exception as exc:
        if guard.received is not None:
            return _interrupted(guard.received)
        log = write_crash_log(exc, argv)
        first_line = (str(exc).splitlines() or [""])[0][:300]
        return Failure(ExitCode.INTERNAL_ERROR, "internal",
                       f"{type(exc).__name__}: {first_line}", crash_log=log)
    except BaseException:
        if guard.received is None:
            raise
        return _interrupted(guard.received)
