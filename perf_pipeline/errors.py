"""The error hierarchy.

Every error the library raises on purpose is a ``PerfPipelineError``, so that the two
boundaries (``cli/exits.py`` and the Dagster asset bodies) can map them to exit code 2 or a
``dagster.Failure`` in one place, while real bugs still surface as tracebacks.
"""

from __future__ import annotations

import signal

__all__ = [
    "GitHubError",
    "Interrupted",
    "InvalidInputError",
    "MeasurementError",
    "PerfPipelineError",
    "StoreError",
]


class PerfPipelineError(Exception):
    """Base of every error perf_pipeline raises deliberately."""


class InvalidInputError(PerfPipelineError, ValueError):
    """Bad option, corrupt or partial results file, unknown ref, NaN samples."""


class MeasurementError(PerfPipelineError):
    """A benchmark suite crashed or timed out.

    Carries what a person needs to see why: the commit, the exit status and the tail of
    the suite's error output (never the whole of it: suites can print megabytes).
    """

    def __init__(
        self,
        message: str,
        *,
        sha: str | None = None,
        returncode: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        super().__init__(message)
        self.sha = sha
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class StoreError(PerfPipelineError):
    """The history database cannot be opened, migrated or written."""


class GitHubError(PerfPipelineError):
    """An HTTP call to the GitHub API failed for good (after retries)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived while a measuring command ran (the CLI raises it).

    Deliberately NOT a ``PerfPipelineError``: it is not bad input and must pass through
    every ``except Exception``. It subclasses ``KeyboardInterrupt`` so that everything
    that already cleans up after Ctrl-C (the suite's process group, temp folders, an open
    transaction, Dagster's run record) does the same for these signals.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"interrupted by signal {signal_name(self.signum)}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def interruption_text(exc: BaseException) -> str:
    """``interrupted by signal SIGTERM``; a plain ``KeyboardInterrupt`` is SIGINT."""
    return f"interrupted by signal {signal_name(getattr(exc, 'signum', signal.SIGINT))}"
