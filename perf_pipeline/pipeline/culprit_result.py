"""A culprit search's result file: where it is, reading it, and writing it without loss.

The result of a search (``culprits/<key>.json``) may be the only record of an A/B that
took many rounds, so it is never overwritten by less: a re-run keeps the earlier probes,
and keeps the earlier A/B when it ran none on the same commit. A broken file is refused
with what to do, never replaced.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Culprit
from perf_pipeline.pipeline.culprit_search import SearchSpec
from perf_pipeline.store import list_culprits, read_culprit, write_culprit
from perf_pipeline.workspace import Workspace

__all__ = ["culprit_path", "read_culprits", "read_earlier_result", "record_result"]


def culprit_path(ws: Workspace, spec: SearchSpec) -> Path:
    return ws.layout.culprit_path(spec.key)


def read_culprits(ws: Workspace) -> tuple[Culprit, ...]:
    """Every finished search's result, oldest first."""
    return list_culprits(ws.layout.culprits_dir)


#: Results that carry an A/B's evidence.
_AB_STATUSES = ("confirmed", "not_confirmed")


def read_earlier_result(ws: Workspace, spec: SearchSpec) -> Culprit | None:
    """The search's earlier result; a broken file is an error that says what to do (it
    is never overwritten: it may be the only record of an A/B)."""
    path = culprit_path(ws, spec)
    try:
        return read_culprit(path)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc}; move it away to search this range again") from exc


def record_result(ws: Workspace, spec: SearchSpec, culprit: Culprit) -> Culprit:
    """Write ``culprit`` as the search's result, keeping what an earlier run of the same
    search knew: its probes (a re-run that measured nothing new still names them), and
    its A/B when this run ran none on the same commit (``--no-confirm`` must not turn a
    confirmed culprit into an unconfirmed one). A new A/B replaces an old one."""
    path = culprit_path(ws, spec)
    old = read_earlier_result(ws, spec)
    if old is not None:
        probes = tuple(dict.fromkeys((*old.probes, *culprit.probes)))
        if (culprit.status not in _AB_STATUSES and old.status in _AB_STATUSES
                and old.sha == culprit.sha):
            culprit = replace(old, probes=probes, notes=(
                *old.notes, f"searched again at {culprit.created_at} without an A/B: the "
                            "same commit; this A/B kept"))
        else:
            culprit = replace(culprit, probes=probes)
    write_culprit(path, culprit)
    return culprit

