"""``performance_baseline.json``: writing it safely, reading it strictly.

The baseline decides whether CI fails, so a half-written file must never be read and an
old baseline must never be lost. ``write_baseline`` writes a temp file in the same
directory, fsyncs it and ``os.replace``s it over the old one (atomic on POSIX and
Windows). Before that, the old file is copied, whole or not at all and never over another
archive (``atomic_file.write_new_atomic``), to
``<dir>/history/<stem>-<its created_at>.json`` so the file is never missing, and the new
baseline's ``previous`` records the old one's ``created_at`` and ``previous``. Writers of one
folder take turns (an ``flock`` on the folder), so two replacing it at once cannot
both archive the same old file and lose the first one's baseline.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic, write_new_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.file_lock import exclusive_lock
from perf_pipeline.model import SCHEMA_VERSION, Baseline, BaselineEntry
from perf_pipeline.store.environment_json import environment_from_data, environment_to_data
from perf_pipeline.store.strict_json import MALFORMED, load_json

__all__ = ["read_baseline", "write_baseline"]

logger = logging.getLogger(__name__)

_KIND = "perf_pipeline.baseline"


def _to_json(baseline: Baseline) -> bytes:
    data = {
        "schema_version": baseline.schema_version,
        "kind": _KIND,
        "policy": baseline.policy,
        "created_at": baseline.created_at,
        "source_run_ids": list(baseline.source_run_ids),
        "source_commits": list(baseline.source_commits),
        "previous": list(baseline.previous),
        "machine_id": baseline.machine_id,
        "environment": (environment_to_data(baseline.environment)
                        if baseline.environment else None),
        "entries": [{"name": e.name, "metric": e.metric, "run_values": list(e.run_values),
                     "samples": list(e.samples), **({"runs": list(e.runs)} if e.runs else {})}
                    for e in baseline.entries],
    }
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False).encode() + b"\n"


def _index(value: object) -> int:
    """A run index as JSON holds it: an integer, never a bool or a float."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"run index {value!r} is not an integer")
    return value


def _from_json(text: bytes, *, path: Path) -> Baseline:
    what = f"baseline file {path}"
    data = load_json(text, what)
    if not isinstance(data, dict):
        raise InvalidInputError(f"{what} does not hold a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InvalidInputError(
            f"{what} has schema_version {version!r}; this perf_pipeline reads {SCHEMA_VERSION}")
    if data.get("kind", _KIND) != _KIND:
        raise InvalidInputError(f"{what} is a {data.get('kind')!r} file, not a baseline")
    try:
        environment = data.get("environment")
        return Baseline(
            policy=data["policy"],
            created_at=str(data["created_at"]),
            source_run_ids=tuple(str(v) for v in data["source_run_ids"]),
            source_commits=tuple(str(v) for v in data["source_commits"]),
            entries=tuple(
                BaselineEntry(name=str(e["name"]), metric=str(e["metric"]),
                              run_values=tuple(float(v) for v in e["run_values"]),
                              samples=tuple(float(v) for v in e.get("samples", ())),
                              runs=tuple(_index(v) for v in e.get("runs", ())))
                for e in data["entries"]),
            environment=(environment_from_data(environment, what=what)
                         if environment is not None else None),
            schema_version=version,
            previous=tuple(str(v) for v in data.get("previous", ())),
            machine_id=(str(data["machine_id"]) if data.get("machine_id") else None),
        )
    except MALFORMED as exc:
        raise InvalidInputError(f"{what} is incomplete or malformed: {exc!r}") from exc


def read_baseline(path: Path) -> Baseline | None:
    """The baseline stored at ``path``; None if there is no file.

    A corrupt, partial or unknown-version file is an ``InvalidInputError`` naming the
    path: comparing against a guess would be worse than stopping.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInputError(f"baseline file {path} cannot be read: {exc}") from exc
    return _from_json(text, path=path)


def _archive(path: Path, old_bytes: bytes, stamp: str) -> Path:
    """Copy the old baseline into ``history/``; an identical archived copy is reused."""
    history = path.parent / "history"
    history.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^0-9A-Za-z._-]+", "-", stamp).strip("-") or "unknown"
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        target = history / f"{path.stem}-{safe}{suffix}{path.suffix}"
        try:  # complete or absent: a failed write never leaves half a copy under the name
            return write_new_atomic(target, old_bytes)
        except FileExistsError:
            if target.read_bytes() == old_bytes:
                return target
            continue
    raise StoreError(f"baseline history {history}: too many files named for {stamp!r}")


def _chain(new: Baseline, old: Baseline) -> tuple[str, ...]:
    """``new.previous`` extended by the replaced baseline's chain and its own stamp."""
    chain = list(new.previous)
    for stamp in (*old.previous, old.created_at):
        if stamp != new.created_at and stamp not in chain:
            chain.append(stamp)
    return tuple(chain)


def write_baseline(path: Path, baseline: Baseline) -> Path:
    """Atomically write ``baseline`` to ``path``, archiving the baseline it replaces.

    Returns ``path``. The written baseline's ``previous`` gains the replaced baseline's
    ``previous`` and ``created_at``, oldest first, so the file lists every baseline before
    it (an unreadable old file is archived all the same, named for its mtime).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Writers of one folder take turns (the folder itself is locked: no lock file
        # beside a baseline the user named): replacing reads the old file, archives it,
        # then writes, and two at once (two `analyze --update-baseline`, Dagster's
        # performance_baseline beside a CLI analyze) both archived the same old file,
        # and the first one's baseline was replaced without ever being archived.
        with exclusive_lock(path.parent):
            _replace_baseline(path, baseline)
    except OSError as exc:
        raise StoreError(f"baseline file {path}: cannot write: {exc}") from exc
    logger.info("wrote baseline %s (%d entries)", path, len(baseline.entries))
    return path


def _replace_baseline(path: Path, baseline: Baseline) -> None:
    """Archive the baseline at ``path`` (if any) and write ``baseline`` there; the
    caller holds the writers' lock. Raises ``OSError``."""
    old_bytes = path.read_bytes() if path.exists() else None
    if old_bytes is not None:
        try:
            old = _from_json(old_bytes, path=path)
            stamp = old.created_at
            baseline = replace(baseline, previous=_chain(baseline, old))
        except InvalidInputError as exc:
            logger.warning("archiving unreadable old baseline %s: %s", path, exc)
            stamp = f"unreadable-{int(path.stat().st_mtime)}"
    data = _to_json(baseline)
    if old_bytes is not None and old_bytes != data:
        archived = _archive(path, old_bytes, stamp)
        logger.info("previous baseline of %s kept as %s", path, archived)
    write_atomic(path, data)
