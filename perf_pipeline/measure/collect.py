"""Ingest every results file under a results directory into the history store.

This is how ``perf-pipeline analyze --results-dir DIR`` works on plain pytest-benchmark
output: our raw run directories under ``raw/`` and any foreign pytest-benchmark ``*.json``
(e.g. ``.benchmarks/`` autosave files), as ``ResultsLayout`` finds them, are loaded with
``load_results`` and stored unless already there. One bad file is reported and does not
stop the others.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.layout import ResultsLayout
from perf_pipeline.measure.json_input import describe_os_error
from perf_pipeline.measure.raw import RUN_FILE
from perf_pipeline.measure.results import load_results

if TYPE_CHECKING:  # the store is only called here
    from perf_pipeline.store import HistoryStore

__all__ = ["IngestSummary", "check_results_dir", "find_result_paths", "ingest_results_dir"]

logger = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class IngestSummary:
    """Run ids newly stored, run ids already there, and ``(path, reason)`` per bad file."""

    ingested: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()


def check_results_dir(results_dir: Path) -> Path:
    """``results_dir`` if it is an existing directory; else say exactly what it is.

    Called before the history db is opened, because opening creates the db's folder:
    a typo in ``--results-dir`` must be an error, not a new empty history.
    """
    results_dir = Path(results_dir)
    try:
        info = os.stat(results_dir)
    except OSError as exc:
        raise InvalidInputError(
            f"results dir {results_dir}: {describe_os_error(results_dir, exc)}") from exc
    if not stat.S_ISDIR(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a file"
        raise InvalidInputError(f"results dir {results_dir} is {kind}, not a directory")
    return results_dir


def find_result_paths(results_dir: Path | ResultsLayout) -> tuple[Path, ...]:
    """Complete raw run directories first (oldest run_id first), then foreign files.

    Only the layout says what is where: a file we wrote ourselves (``analysis/<sha>.json``,
    a confirmation, a baseline, a noise corpus...) is never taken for a result.
    """
    layout = results_dir if isinstance(results_dir, ResultsLayout) else ResultsLayout(
        Path(results_dir))
    run_dirs = [d for d in layout.run_dir_candidates() if (d / RUN_FILE).is_file()]
    return (*run_dirs, *layout.foreign_result_files())


def ingest_results_dir(results_dir: Path | ResultsLayout, store: HistoryStore) -> IngestSummary:
    """Load and store every run found under ``results_dir``; report bad files.

    A file that cannot be loaded, or whose contents the store refuses, is listed in
    ``errors`` with the reason and the rest are still ingested. A failure of the store
    itself (``StoreError``: disk full, db locked for too long) stops the ingest, because
    it would fail every file after it too and is not the file's fault.
    """
    check_results_dir(results_dir.root if isinstance(results_dir, ResultsLayout)
                      else results_dir)
    ingested: list[str] = []
    skipped: list[str] = []
    errors: list[tuple[str, str]] = []
    for path in find_result_paths(results_dir):
        try:
            run = load_results(path)
            if store.has_run(run.run_id) or not store.ingest_run(run):
                skipped.append(run.run_id)
            else:
                ingested.append(run.run_id)
        except InvalidInputError as exc:
            logger.warning("skipping %s: %s", path, exc)
            errors.append((str(path), str(exc)))
    return IngestSummary(ingested=tuple(ingested), skipped=tuple(skipped), errors=tuple(errors))
