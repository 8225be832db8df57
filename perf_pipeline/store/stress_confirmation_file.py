"""A commit's stress confirmation as a JSON file: the stress gate's second stage.

One file per commit (``<results>/confirmation/<sha>.stress.json``, beside the benchmark
gate's ``<sha>.json`` of ``confirmation_file.py``), replaced atomically when the commit's
stress figures are confirmed again. It records which two stress runs it was about
(``run_id``, ``baseline_run_id``), so a reader can tell it from one of an earlier run.
The screen's rows of each tally are not kept: readers judge the stored runs again.
"""

from __future__ import annotations

import json
from pathlib import Path

from perf_pipeline.atomic_file import make_dirs, write_atomic
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    FigureTally,
    StressConfirmation,
    StressConfirmationRecord,
    Verdict,
)
from perf_pipeline.store.strict_json import MALFORMED, load_json

__all__ = ["read_stress_confirmation_file", "write_stress_confirmation_file"]

_VERSION = 1


def _tally_to_dict(t: FigureTally) -> dict[str, object]:
    test, scenario, figure = t.key
    return {"test": test, "scenario": scenario, "figure": figure, "changes": list(t.changes),
            "margin": t.margin, "p_value": t.p_value, "worse_by_margin": t.worse_by_margin,
            "verdict": t.verdict.value}


def _to_json(r: StressConfirmationRecord) -> bytes:
    c = r.confirmation
    data = {"schema_version": _VERSION, "sha": r.sha, "run_id": r.run_id,
            "baseline_run_id": r.baseline_run_id, "baseline_sha": r.baseline_sha,
            "created_at": r.created_at, "raw_dir": r.raw_dir, "notes": list(r.notes),
            "pairs": c.pairs, "pairs_used": c.pairs_used, "alpha": c.alpha, "level": c.level,
            "figures": [_tally_to_dict(t) for t in c.tallies]}
    return json.dumps(data, indent=1, allow_nan=False).encode("utf-8")


def _from_json(raw: bytes, path: Path) -> StressConfirmationRecord:
    try:
        d = load_json(raw, f"stress confirmation file {path}")
        if d.get("schema_version") != _VERSION:
            raise InvalidInputError(f"schema_version {d.get('schema_version')!r} is not "
                                    "supported")
        tallies = tuple(FigureTally(
            key=(str(f["test"]), str(f["scenario"]), str(f["figure"])),
            changes=tuple(float(x) for x in f["changes"]),
            margin=None if f["margin"] is None else float(f["margin"]),
            p_value=None if f["p_value"] is None else float(f["p_value"]),
            worse_by_margin=int(f["worse_by_margin"]), verdict=Verdict(f["verdict"]))
            for f in d["figures"])
        confirmation = StressConfirmation(tallies=tallies, pairs_used=int(d["pairs_used"]),
                                          pairs=int(d["pairs"]), alpha=float(d["alpha"]),
                                          level=float(d["level"]))
        return StressConfirmationRecord(
            sha=str(d["sha"]), run_id=str(d["run_id"]),
            baseline_run_id=str(d["baseline_run_id"]), baseline_sha=str(d["baseline_sha"]),
            confirmation=confirmation, created_at=str(d["created_at"]),
            raw_dir=None if d["raw_dir"] is None else str(d["raw_dir"]),
            notes=tuple(str(n) for n in d["notes"]))
    except (InvalidInputError, *MALFORMED) as exc:
        raise InvalidInputError(f"{path}: not a valid stress confirmation file ({exc})"
                                ) from exc


def read_stress_confirmation_file(path: Path) -> StressConfirmationRecord | None:
    """``None`` when the commit's stress figures have not been confirmed; a broken or
    unreadable file is an error naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInputError(f"{path}: unreadable ({exc})") from exc
    return _from_json(raw, path)


def write_stress_confirmation_file(path: Path, record: StressConfirmationRecord) -> Path:
    """Write atomically (temp file in the same folder, then ``os.replace``), creating the
    confirmation folder."""
    make_dirs(path.parent, "confirmation folder (under --results-dir)")
    write_atomic(path, _to_json(record))
    return path
