"""A culprit search's result as a JSON file: what reports, alerts and the sensor read.

One file per search (``<results>/culprits/<key>.json``, the key naming the good and bad
commits and the benchmark), replaced atomically when the search runs again. The sensor
treats an existing file as "this search is done". Ratios and interval bounds come from an
A/B comparison and may be non-finite: they are written as analysis files write them
(``strict_json.py``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import SCHEMA_VERSION, Culprit
from perf_pipeline.store.strict_json import MALFORMED, decode_float, encode_float, load_json

__all__ = ["list_culprits", "read_culprit", "write_culprit"]

_TUPLES = ("probes", "suspects", "notes")
#: Copied from an A/B ``Comparison``, which may be NaN or infinite (too few rounds).
_FLOATS = ("step_ratio", "confirmed_ratio", "ci_low", "ci_high")


def _to_json(c: Culprit) -> bytes:
    data = {f.name: getattr(c, f.name) for f in dataclasses.fields(Culprit)}
    for name in _TUPLES:
        data[name] = list(data[name])
    for name in _FLOATS:
        data[name] = encode_float(data[name])
    return json.dumps(data, indent=1, allow_nan=False).encode("utf-8")


def _from_json(raw: bytes, path: Path) -> Culprit:
    try:
        d = load_json(raw, f"culprit file {path}")
        if not isinstance(d, dict):
            raise TypeError("not a JSON object")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise InvalidInputError(
                f"{path}: schema_version {d.get('schema_version')!r} is not supported")
        known = {f.name for f in dataclasses.fields(Culprit)}
        kwargs = {k: v for k, v in d.items() if k in known}
        for name in _TUPLES:
            kwargs[name] = tuple(str(x) for x in kwargs.get(name, ()))
        for name in _FLOATS:
            if kwargs.get(name) is not None:
                kwargs[name] = decode_float(kwargs[name])
        return Culprit(**kwargs)
    except InvalidInputError as exc:
        if str(path) in str(exc):
            raise
        raise InvalidInputError(f"{path}: not a valid culprit file ({exc})") from exc
    except MALFORMED as exc:
        raise InvalidInputError(f"{path}: not a valid culprit file ({exc!r})") from exc


def write_culprit(path: Path, culprit: Culprit) -> Path:
    """Write atomically (temp file in the same folder, then ``os.replace``)."""
    data = _to_json(culprit)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        raise StoreError(f"cannot write culprit {path}: {exc}") from exc
    return path


def read_culprit(path: Path) -> Culprit | None:
    """``None`` when the search has no result yet; a broken file is an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read culprit {path}: {exc}") from exc
    return _from_json(raw, path)


def list_culprits(directory: Path) -> tuple[Culprit, ...]:
    """Every culprit file in ``directory``, oldest first (by ``created_at``)."""
    try:
        paths = sorted(directory.glob("*.json"))
    except OSError as exc:
        raise StoreError(f"cannot list culprits in {directory}: {exc}") from exc
    found = [c for c in (read_culprit(p) for p in paths) if c is not None]
    return tuple(sorted(found, key=lambda c: (c.created_at, c.good_sha, c.benchmark)))
