"""Raw run outputs, written once under ``<results_dir>/raw/<sha>/<run_id>/``.

A run directory holds ``benchmark.json`` (exactly as pytest-benchmark wrote it, absent
for a run that produced none: a failed run, or a suite in which no benchmark ran) and
``run.json`` (our record of the run; its ``benchmark_files`` counts the benchmark files).
The directory is created fresh and never written again: if it exists we refuse. Each
file is written to a temporary name and moved into place with ``os.replace``;
``run.json`` goes last, so a directory without it is an interrupted write, which
readers ignore.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import SCHEMA_VERSION

__all__ = ["BENCHMARK_FILE", "RUN_FILE", "new_run_id", "write_raw_run"]

BENCHMARK_FILE = "benchmark.json"
RUN_FILE = "run.json"


def process_file_name(process: int) -> str:
    """``benchmark.json`` for the first process of a run, ``benchmark-N.json`` after."""
    return BENCHMARK_FILE if process == 1 else f"benchmark-{process}.json"


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
    measured in several processes), kept as ``benchmark-2.json``, ``benchmark-3.json``...
    ``stress_files`` are the stress harness's per-test figures files (with their
    latency histograms), kept as they are under ``stress/``.
    Raises ``InvalidInputError`` if the run directory already exists.
    """
    run_id = str(record.get("run_id") or "")
    commit = record.get("commit")
    sha = str(commit.get("sha") or "") if isinstance(commit, Mapping) else ""
    for label, value in (("run_id", run_id), ("commit sha", sha)):
        if not value or "/" in value or "\\" in value or value.startswith("."):
            raise InvalidInputError(f"raw run record: {label} {value!r} is not a safe name")
    run_dir = Path(raw_dir) / sha / run_id
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_dir.mkdir()
    except FileExistsError as exc:
        raise InvalidInputError(
            f"raw run directory {run_dir} already exists; raw outputs are never rewritten"
        ) from exc
    if benchmark_json is not None:
        _write_once(run_dir / BENCHMARK_FILE, Path(benchmark_json).read_bytes())
        for i, extra in enumerate(more_benchmark_json, start=2):
            _write_once(run_dir / process_file_name(i), Path(extra).read_bytes())
    if stress_files:
        (run_dir / "stress").mkdir()
        for path in stress_files:
            _write_once(run_dir / "stress" / Path(path).name, Path(path).read_bytes())
    body = {"schema_version": SCHEMA_VERSION, **record}
    _write_once(run_dir / RUN_FILE,
                json.dumps(body, indent=2, sort_keys=True, allow_nan=False).encode())
    return run_dir
