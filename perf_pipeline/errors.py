"""The error hierarchy.

Every error the library raises on purpose is a ``PerfPipelineError``, so that the two
boundaries (``cli.main`` and the Dagster asset bodies) can map them to exit code 2 or a
``dagster.Failure`` in one place, while real bugs still surface as tracebacks.
"""

from __future__ import annotations

__all__ = [
    "GitHubError",
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
