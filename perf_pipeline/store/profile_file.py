"""A profile comparison as a JSON file: what reports read after ``profile`` has run.

``<results>/profile/<sha>.json`` holds the latest profile of a commit against its
baseline commit (replaced atomically when the commit is profiled again); the raw files
behind it (``.prof``, tracemalloc, memory series) stay under ``raw/profile/``. All
numbers in a ``ProfileComparison`` are finite, so the file is strict JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import (
    SCHEMA_VERSION,
    AllocationChange,
    FlameNode,
    FunctionChange,
    ProfileComparison,
    ProfileDiff,
    Spread,
)
from perf_pipeline.store.strict_json import MALFORMED, load_json

__all__ = ["read_profile_comparison", "write_profile_comparison"]

_SPREADS_F = ("base_own", "candidate_own", "base_cum", "candidate_cum", "base_share",
              "candidate_share")
_SPREADS_A = ("base_bytes", "candidate_bytes")


def _spreads(d: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {**d, **{n: Spread(**d[n]) for n in names}}


def _diff_from_dict(d: dict[str, Any]) -> ProfileDiff:
    return ProfileDiff(
        benchmark=str(d["benchmark"]), repeats=int(d["repeats"]),
        base_total_s=Spread(**d["base_total_s"]),
        candidate_total_s=Spread(**d["candidate_total_s"]),
        functions=tuple(FunctionChange(**_spreads(f, _SPREADS_F)) for f in d["functions"]),
        allocations=tuple(AllocationChange(**_spreads(a, _SPREADS_A))
                          for a in d.get("allocations", ())),
        base_peak_bytes=float(d.get("base_peak_bytes", 0.0)),
        candidate_peak_bytes=float(d.get("candidate_peak_bytes", 0.0)),
        flame=tuple(FlameNode(**n) for n in d.get("flame", ())),
        folded=bool(d.get("folded", True)),
        artifacts=tuple((str(a), str(b)) for a, b in d.get("artifacts", ())))


def write_profile_comparison(path: Path, comparison: ProfileComparison) -> Path:
    """Write ``comparison`` to ``path`` atomically."""
    body = json.dumps(asdict(comparison), allow_nan=False, separators=(",", ":")).encode()
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(Path(path), body)
    except OSError as exc:
        raise StoreError(f"profile file {path}: cannot write: {exc}") from exc


def read_profile_comparison(path: Path) -> ProfileComparison | None:
    """The comparison in ``path``, or None if there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    what = f"profile file {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{what} is unreadable: {exc}") from exc
    d = load_json(raw, what)
    try:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise InvalidInputError(f"profile file {path}: schema_version "
                                    f"{d.get('schema_version')!r} is not supported")
        return ProfileComparison(
            profile_id=str(d["profile_id"]), base_sha=str(d["base_sha"]),
            candidate_sha=str(d["candidate_sha"]), created_at=str(d["created_at"]),
            diffs=tuple(_diff_from_dict(x) for x in d["diffs"]), raw_dir=d.get("raw_dir"),
            notes=tuple(str(n) for n in d.get("notes", ())))
    except InvalidInputError:
        raise  # it names the file already
    except MALFORMED as exc:
        raise InvalidInputError(f"{what} is unreadable: {exc}") from exc
