"""A commit's two-stage gate result as a JSON file: what the blocking check and the
reports read.

One file per commit (``<results>/confirmation/<sha>.json``), replaced atomically when
the commit is confirmed again. It records which screened run it confirmed (``run_id``),
so a reader can tell a current confirmation from one of an earlier measurement.
Comparisons use the analysis file's encoding (non-finite numbers as strings).
"""

from __future__ import annotations

import json
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import SCHEMA_VERSION, Confirmation
from perf_pipeline.store.analysis_file import (
    suite_comparison_from_dict,
    suite_comparison_to_dict,
)
from perf_pipeline.store.strict_json import MALFORMED, load_json

__all__ = ["read_confirmation", "write_confirmation"]


def _to_json(c: Confirmation) -> bytes:
    data = {
        "schema_version": c.schema_version, "sha": c.sha, "run_id": c.run_id,
        "created_at": c.created_at, "status": c.status, "screen_alpha": c.screen_alpha,
        "screen": suite_comparison_to_dict(c.screen),
        "final": suite_comparison_to_dict(c.final),
        "base_sha": c.base_sha, "flagged": list(c.flagged), "suspects": list(c.suspects),
        "controls": list(c.controls),
        "ab": suite_comparison_to_dict(c.ab), "rounds_used": c.rounds_used,
        "max_rounds": c.max_rounds, "stopped": c.stopped,
        "decided_at": [[name, n] for name, n in c.decided_at],
        "raw_dir": c.raw_dir, "notes": list(c.notes), "whole_suite": c.whole_suite,
    }
    return json.dumps(data, indent=1, allow_nan=False).encode("utf-8")


def _from_json(raw: bytes, path: Path) -> Confirmation:
    try:
        d = load_json(raw, f"confirmation file {path}")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise InvalidInputError(
                f"{path}: schema_version {d.get('schema_version')!r} is not supported")
        return Confirmation(
            sha=str(d["sha"]), run_id=str(d["run_id"]), created_at=str(d["created_at"]),
            status=str(d["status"]), screen_alpha=float(d["screen_alpha"]),
            screen=suite_comparison_from_dict(d["screen"]),
            final=suite_comparison_from_dict(d["final"]),
            base_sha=d["base_sha"], flagged=tuple(d["flagged"]),
            suspects=tuple(str(n) for n in d.get("suspects", ())),
            controls=tuple(d["controls"]), ab=suite_comparison_from_dict(d["ab"]),
            rounds_used=int(d["rounds_used"]), max_rounds=int(d["max_rounds"]),
            stopped=d["stopped"],
            decided_at=tuple((str(name), int(n)) for name, n in d["decided_at"]),
            raw_dir=d["raw_dir"], notes=tuple(str(n) for n in d["notes"]),
            whole_suite=bool(d.get("whole_suite", False)))
    except InvalidInputError as exc:
        if str(path) in str(exc):
            raise
        raise InvalidInputError(f"{path}: not a valid confirmation file ({exc})") from exc
    except MALFORMED as exc:
        raise InvalidInputError(f"{path}: not a valid confirmation file ({exc!r})") from exc


def write_confirmation(path: Path, confirmation: Confirmation) -> Path:
    """Write atomically (temp file in the same folder, then ``os.replace``)."""
    data = _to_json(confirmation)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        raise StoreError(f"cannot write confirmation {path}: {exc}") from exc
    return path


def read_confirmation(path: Path) -> Confirmation | None:
    """``None`` when the commit has not been confirmed; a broken file is an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read confirmation {path}: {exc}") from exc
    return _from_json(raw, path)
