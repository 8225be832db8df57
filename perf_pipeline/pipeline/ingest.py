"""The ingest step: store every new result of the results dir in the history."""

from __future__ import annotations

from collections.abc import Callable

from perf_pipeline.measure import (
    IngestSummary,
    backfill_ancestry_ordinals,
    check_results_dir,
    ingest_results_dir,
)
from perf_pipeline.workspace import Workspace

__all__ = ["ingest_results"]


def ingest_results(ws: Workspace, *,
                   on_file: Callable[[int, int], None] | None = None) -> IngestSummary:
    """Store every new result under the results dir (``ResultsLayout`` says which).

    The results dir must exist: it is checked before the store is opened, because
    opening creates the db's folder and a typo must not become a new empty history.
    ``on_file(done, total)`` is called after each result path (a progress display).
    """
    check_results_dir(ws.layout.root)
    summary = ingest_results_dir(ws.layout, ws.store, on_file=on_file)
    # runs stored without a first-parent ordinal (older histories, plain
    # pytest-benchmark files) get it from the repository: history order follows ancestry
    backfill_ancestry_ordinals(ws.settings.repo_path, ws.store)
    return summary
