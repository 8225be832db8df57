"""Raw run outputs, written once under ``<results_dir>/raw/<sha>/<run_id>/``.

A run directory holds ``benchmark.json.gz`` (what pytest-benchmark wrote, gzipped, with
each benchmark's ``stats.data`` sorted ascending; absent for a run that produced none:
a failed run, or a suite in which no benchmark ran), ``benchmark-N.json.gz`` for further
processes, and ``run.json`` (our record of the run, plain; its ``benchmark_files``
counts the benchmark files). Directories written before compression hold plain
``benchmark.json`` files; readers take either (``process_file``).

Why sorted: every statistic perf_pipeline takes of the samples is one of their order
(median, quantiles, min, MAD, mean), and sorting makes the repeats of a fast
benchmark's timer-quantised samples sit together, so gzip shrinks a 50 MB file of
2M samples to ~0.3 MB instead of ~5 MB (``benchmarks/sample_storage.py``). The order in
which rounds were taken is not kept.
The directory is created fresh and never written again: if it exists we refuse. Each
file is written to a temporary name and moved into place with ``os.replace``;
``run.json`` goes last, so a directory without it is an interrupted write, which
readers ignore. A process killed mid-write (SIGKILL) cannot remove it, so measuring
commands remove such directories once they are old (``sweep_interrupted_run_dirs``).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.atomic_file import STALE_TEMP_AGE_S, write_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import SCHEMA_VERSION

__all__ = ["BENCHMARK_FILE", "RUN_FILE", "compact_benchmark_json", "new_run_id",
           "process_file", "sweep_interrupted_run_dirs", "write_raw_run"]

logger = logging.getLogger(__name__)

BENCHMARK_FILE = "benchmark.json.gz"
#: The name of the first process's file in run directories written before compression.
LEGACY_BENCHMARK_FILE = "benchmark.json"
RUN_FILE = "run.json"
#: gzip level of raw benchmark files: sorted samples compress nearly as well at 6 as at
#: 9, in a fraction of the time.
_GZIP_LEVEL = 6


def process_file_name(process: int) -> str:
    """``benchmark.json.gz`` for the first process of a run, ``benchmark-N.json.gz`` after."""
    return BENCHMARK_FILE if process == 1 else f"benchmark-{process}.json.gz"


def process_file(run_dir: Path, process: int) -> Path | None:
    """The benchmark file of ``process`` in ``run_dir``, compressed or (older
    directories) plain ``.json``; None if there is none."""
    for name in (process_file_name(process), process_file_name(process).removesuffix(".gz")):
        if (run_dir / name).is_file():
            return run_dir / name
    return None


def compact_benchmark_json(data: bytes) -> bytes:
    """pytest-benchmark JSON text as we keep it: ``stats.data`` sorted, gzipped.

    Everything else is kept as pytest-benchmark wrote it. The text must be a valid
    results file (``session.py`` loads it before keeping it); anything unexpected in it
    is kept unchanged rather than refused here. That includes NaN and Infinity, which
    pytest-benchmark writes (its ``json.dumps`` allows them) wherever a test put one,
    e.g. ``benchmark.extra_info["hit_rate"] = float("nan")`` for an empty cache: the
    loader reads them and checks only the values it uses (samples, statistics, our
    metrics), so refusing them here lost a valid run after it was measured. Text that
    parses but cannot be written back is kept as it was (gzipped, samples unsorted), for
    the same reason. Raises ``ValueError`` for text that is not JSON.
    """
    doc = json.loads(data)
    benchmarks = doc.get("benchmarks") if isinstance(doc, dict) else None
    for bench in benchmarks if isinstance(benchmarks, list) else ():
        stats = bench.get("stats") if isinstance(bench, dict) else None
        samples = stats.get("data") if isinstance(stats, dict) else None
        if isinstance(samples, list) and all(type(x) is float for x in samples):
            samples.sort()
    try:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:  # not expected of a file the loader accepted: keep it whole
        text = data
    return gzip.compress(text, compresslevel=_GZIP_LEVEL, mtime=0)


def new_run_id(now: datetime | None = None) -> str:
    """``20240131T120000Z-1a2b3c4d``: sortable by time, unique by the random suffix."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S}Z-{secrets.token_hex(4)}"


def _write_once(path: Path, data: bytes) -> None:
    write_atomic(path, data, read_only=True)  # raw files are never rewritten


def write_raw_run(
    raw_dir: Path,
    record: Mapping[str, object],
    *,
    benchmark_json: Path | None = None,
    more_benchmark_json: Sequence[Path] = (),
    stress_files: Sequence[Path] = (),
) -> Path:
    """Write one run's raw outputs and return the run directory.

    ``record`` must hold ``run_id`` and ``commit.sha``; ``schema_version`` is added.
    ``more_benchmark_json`` are the files of the run's further processes (a run may be
    measured in several processes), kept as ``benchmark-2.json.gz``... Each is kept
    compacted (``compact_benchmark_json``).
    ``stress_files`` are the stress harness's per-test figures files (with their
    latency histograms), kept as they are under ``stress/``.
    Raises ``InvalidInputError`` if the run directory already exists, ``StoreError``
    if it cannot be written (a full disk, a read-only folder); a directory left
    incomplete by a failure is removed.
    """
    run_id = str(record.get("run_id") or "")
    commit = record.get("commit")
    sha = str(commit.get("sha") or "") if isinstance(commit, Mapping) else ""
    for label, value in (("run_id", run_id), ("commit sha", sha)):
        if not value or "/" in value or "\\" in value or value.startswith("."):
            raise InvalidInputError(f"raw run record: {label} {value!r} is not a safe name")
    run_dir = Path(raw_dir) / sha / run_id
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except FileExistsError as exc:
        raise InvalidInputError(
            f"raw run directory {run_dir} already exists; raw outputs are never rewritten"
        ) from exc
    except OSError as exc:  # read-only, permission denied, full disk: not a bug of ours
        raise StoreError(f"raw run directory {run_dir}: cannot create it: "
                         f"{exc.strerror or exc}") from exc
    try:
        _write_files(run_dir, record, benchmark_json=benchmark_json,
                     more_benchmark_json=more_benchmark_json, stress_files=stress_files)
    except BaseException as exc:
        if not (run_dir / RUN_FILE).is_file():
            # Never completed: remove it, so no half-written run stays behind.
            shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(exc, OSError):  # a full disk, a folder made read-only meanwhile
            raise StoreError(f"raw run directory {run_dir}: cannot write the run: "
                             f"{exc.strerror or exc}") from exc
        raise
    return run_dir


def _last_change(run_dir: Path) -> float:
    """The newest mtime of ``run_dir`` and its entries (a write in progress renews one)."""
    newest = run_dir.stat().st_mtime
    with os.scandir(run_dir) as entries:
        for entry in entries:
            newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def sweep_interrupted_run_dirs(run_dirs: Iterable[Path], *,
                               older_than_s: float = STALE_TEMP_AGE_S) -> tuple[Path, ...]:
    """Remove the run directories among ``run_dirs`` whose write never finished.

    A directory without ``run.json`` whose last change is older than ``older_than_s``:
    ``write_raw_run`` fills a new directory within seconds and removes it itself on any
    failure Python sees, so only a killed writer leaves one, and nothing will ever read
    it (its benchmark files have no record of what they measured). Never raises.
    """
    cutoff = time.time() - older_than_s
    removed: list[Path] = []
    for run_dir in run_dirs:
        try:
            if (run_dir / RUN_FILE).exists() or run_dir.is_symlink() \
                    or _last_change(run_dir) >= cutoff:
                continue
        except OSError:
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        if not run_dir.exists():
            logger.info("removed %s: its write was interrupted (no %s)", run_dir, RUN_FILE)
            removed.append(run_dir)
    return tuple(removed)


def _write_files(run_dir: Path, record: Mapping[str, object], *,
                 benchmark_json: Path | None, more_benchmark_json: Sequence[Path],
                 stress_files: Sequence[Path]) -> None:
    """The files of a new run directory, ``run.json`` last (see the module docstring)."""
    if benchmark_json is not None:
        for i, source in enumerate((benchmark_json, *more_benchmark_json), start=1):
            _write_once(run_dir / process_file_name(i),
                        compact_benchmark_json(Path(source).read_bytes()))
    if stress_files:
        (run_dir / "stress").mkdir()
        for path in stress_files:
            _write_once(run_dir / "stress" / Path(path).name, Path(path).read_bytes())
    body = {"schema_version": SCHEMA_VERSION, **record}
    _write_once(run_dir / RUN_FILE,
                json.dumps(body, indent=2, sort_keys=True, allow_nan=False).encode())
