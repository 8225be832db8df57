"""The raw files of an A/B run: where they go, and how they are written.

Every process's pytest-benchmark JSON is kept under ``raw/ab/<id>/``, as
``round-NNN-<side>.json.gz`` for the first process of a side and
``round-NNN-<side>-P.json.gz`` for process P >= 2, with sorted samples like raw run
dirs, beside an ``ab.json`` manifest written whenever the rounds end (all done, the
budget spent, the consumer stopped early, or a side failed): an A/B's rounds may be the
only record of a long measurement, so each file is written once, read-only, and a disk
that refuses one is a ``StoreError`` that names it.
"""

from __future__ import annotations

from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.config import Settings
from perf_pipeline.errors import StoreError
from perf_pipeline.measure.raw import compact_benchmark_json

__all__ = ["AB_MANIFEST", "ab_raw_dir", "compact_round_json", "keep_ab_file"]

#: The manifest of an A/B run, next to its rounds' JSON files.
AB_MANIFEST = "ab.json"


def compact_round_json(data: bytes) -> bytes:
    """The round's file as raw run dirs keep theirs; text that is not JSON is kept as it
    is, for ``load_results`` to name what is wrong with it."""
    try:
        return compact_benchmark_json(data)
    except ValueError:
        return data


def ab_raw_dir(settings: Settings, ab_id: str, base: str, candidate: str) -> Path:
    return settings.layout.ab_dir(ab_id, base, candidate)


def keep_ab_file(path: Path, data: bytes) -> None:
    """Write one of the A/B's raw files (never rewritten); a full disk or a read-only
    folder is a ``StoreError`` naming it (a bare ``OSError`` ended ``ab`` and the
    confirmation with exit 3, "a bug in perf_pipeline")."""
    try:
        write_atomic(path, data, read_only=True)
    except OSError as exc:
        raise StoreError(f"A/B raw file {path}: cannot write it: "
                         f"{exc.strerror or exc}") from exc
