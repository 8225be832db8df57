"""Ingest every results file under a results directory into the history store.

This is how ``perf-pipeline analyze --results-dir DIR`` works on plain pytest-benchmark
output: our raw run directories under ``raw/`` and any foreign pytest-benchmark ``*.json``
(e.g. ``.benchmarks/`` autosave files), as ``ResultsLayout`` finds them, are loaded with
``load_results`` and stored unless already there. One bad file is reported and does not
stop the others.

Incremental: the store remembers each source's size and mtime (``store/sources.py``), so
a raw run dir or file stored before is skipped without being parsed.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.layout import ResultsLayout
from perf_pipeline.measure.json_input import describe_os_error
from perf_pipeline.measure.raw import RUN_FILE
from perf_pipeline.measure.results import load_results
from perf_pipeline.measure.stress_results import STRESS_SUBDIR, load_stress_figures
from perf_pipeline.store.sources import source_stamp

if TYPE_CHECKING:  # the store is only called here
    from perf_pipeline.store import HistoryStore

__all__ = ["IngestSummary", "check_results_dir", "find_result_paths", "ingest_results_dir",
           "store_unstored_runs"]

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


def _ingest_stress(path: Path, run_id: str, store: HistoryStore) -> None:
    """The stress figures of a raw run dir into the history, unless it has them.

    They are part of the run as written once (``stress/``): a history rebuilt by
    ``ingest`` must have them (it once stored the run without them, and the stress
    analysis had nothing to judge), and so must one where ``run`` died between storing
    the run and its figures (the run's source was then known, the figures never came).
    A figures file that cannot be read is a warning, not a bad file: the run itself is
    stored, and an error would fail every later ingest (and so the gate) on that dir.
    """
    if not (path / STRESS_SUBDIR).is_dir() or store.stress_figures(run_id):
        return
    try:
        figures = load_stress_figures(path)
    except InvalidInputError as exc:
        logger.warning("run %s: its stress figures are left out: %s", run_id, exc)
        return
    if figures:
        store.record_stress(run_id, figures)


def ingest_results_dir(results_dir: Path | ResultsLayout, store: HistoryStore, *,
                       on_file: Callable[[int, int], None] | None = None) -> IngestSummary:
    """Load and store every run found under ``results_dir``; report bad files.

    ``on_file(done, total)`` is called after each result path, for a progress display.

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
    known = store.sources()  # incremental: a source stored before is not parsed again
    paths = find_result_paths(results_dir)
    for done, path in enumerate(paths, start=1):
        try:
            stamp = source_stamp(path / RUN_FILE if path.is_dir() else path)
        except OSError:
            stamp = None  # load_results says what is wrong with it
        seen = known.get(stamp.path) if stamp is not None else None
        try:
            if seen is not None and seen[0] == stamp:
                skipped.append(seen[1])
                _ingest_stress(path, seen[1], store)
            else:
                run = load_results(path)
                if run.machine_id is None and path.parent.parent.name == ".benchmarks":
                    # pytest-benchmark's autosave tree names the machine when the file can't
                    run = replace(run, machine_id=path.parent.name)
                if store.ingest_run(run, source=stamp):
                    ingested.append(run.run_id)
                else:
                    skipped.append(run.run_id)
                _ingest_stress(path, run.run_id, store)
        except InvalidInputError as exc:
            logger.warning("skipping %s: %s", path, exc)
            errors.append((str(path), str(exc)))
        if on_file is not None:
            on_file(done, len(paths))
    return IngestSummary(ingested=tuple(ingested), skipped=tuple(skipped), errors=tuple(errors))


def store_unstored_runs(layout: ResultsLayout, store: HistoryStore) -> tuple[str, ...]:
    """Store every complete raw run dir of ``layout`` the history does not know; their ids.

    A measuring process writes the run dir, then stores the run (``measure_commit``).
    Killed in between (SIGKILL, the OOM killer, a Dagster run terminated the hard way),
    it left a complete, measured run that only an explicit ``ingest``/``analyze`` would
    ever have stored: the next ``run`` or backfill measured on beside it, and a
    backfill measured the commit again. So every measuring command stores such runs
    first, saying so. Only our own run dirs, never foreign files (an ``ingest`` is the
    user's decision about those); a dir that cannot be read is a warning and stays.
    Cheap when there is nothing to do: known sources are skipped by their stamp.
    """
    if not layout.raw_dir.is_dir():
        return ()
    known = store.sources()
    stored: list[str] = []
    for path in layout.run_dir_candidates():
        try:
            stamp = source_stamp(path / RUN_FILE)
        except OSError:
            continue  # not complete (an interrupted write) or unreadable: not a run
        seen = known.get(stamp.path)
        if seen is not None and seen[0] == stamp:
            continue
        try:
            run = load_results(path)
            if store.ingest_run(run, source=stamp):
                stored.append(run.run_id)
                logger.warning(
                    "run %s at %s was measured but never stored in the history (the "
                    "process that measured it was killed first); stored now", run.run_id, path)
            _ingest_stress(path, run.run_id, store)
        except InvalidInputError as exc:
            logger.warning("raw run %s is not in the history and cannot be read: %s",
                           path, exc)
    return tuple(stored)
