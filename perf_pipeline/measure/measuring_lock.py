"""One measuring step at a time per results directory, whoever started it.

Dagster's ``benchmark_machine`` pool keeps the run queue from starting a second run
with a measuring step, but a run executed in process (``perf-pipeline backfill`` and
``demo``, ``dagster asset materialize``, ``dagster.materialize``) never passes through
the queue: two of them, or one beside a run the queue started, measured two commits at
the same time, and overlapping measurements on one machine corrupt each other. So every
measuring asset also holds this lock (``file_lock``) while it measures: the kernel
releases it when its holder dies, however it dies, so it can never be left stale.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.file_lock import exclusive_lock

__all__ = ["measuring_lock"]

LOCK_NAME = "measuring.lock"


@contextlib.contextmanager
def measuring_lock(worktrees_dir: Path, *,
                   on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the measuring lock of the results dir whose worktrees live in
    ``worktrees_dir`` (beside the per-commit locks of ``worktree.py``); ``on_wait`` is
    called once if another holder makes us wait."""
    path = Path(worktrees_dir) / ".locks" / LOCK_NAME
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(path, on_wait=on_wait))
        except OSError as exc:  # a read-only results dir: bad input, not a crash
            raise InvalidInputError(
                f"measuring lock {path} (under --results-dir): cannot create it: "
                f"{exc.strerror or exc}") from exc
        yield
