"""Commits dated in the future: their place in history order (both backends).

``sort_at`` is the first key of history order (``queries.py``): the commit time. A
commit time can be wrong: a committer's clock set ahead (``GIT_COMMITTER_DATE=2030-01-01``,
a VM with a skewed clock) dated a commit in the future, and that commit stayed the newest
run for ever: every descendant sorted before it, so none had it in its rolling baseline
(each was judged against the history before it), ``latest_run`` and the newest commits of
the baseline file were it, and series, change points and drifts ran out of order.

Such a commit time is known to be wrong: it is later than the start of the commit's first
run, and a commit exists before it is measured. Only those commits are moved ("skewed";
every other run keeps its commit time, ``runs.commit_utc``). A skewed commit's
``sort_at`` is brought down to what the history says it was at the latest:

- no later than its first run's start, nor than the commit time (or, if earlier, first
  run) of any run of its branch with a higher first-parent ordinal: on a branch the
  ordinal grows from parent to child, so those are its descendants;
- but never before a run of its branch with a lower ordinal (its ancestors): the
  measuring machine's clock may be behind too, and a commit must not sort before its
  parent;
- and never later than its own commit time.

The ordinal (the second key) then orders it among the descendants whose time it takes.
Ordinals of one branch are not always one chain (a merged feature branch's commits are
on the main branch by reachability, with their own first-parent counts), so commits that
are not skewed are never moved by them; the bounds above keep even a skewed commit after
its recorded ancestors. Runs without a branch, an ordinal or a commit time are left alone.

The result depends on the stored rows only, not on the order they came in; it is
recomputed for a branch after each run of it is stored, and for every branch after a
run is deleted (a commit whose deleted run made it look skewed goes back to its time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MISSING_ORDINALS_SQL", "SET_ORDINAL_SQL", "restore_ancestry_order"]

Query = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
Execute = Callable[[str, dict[str, Any]], None]

#: Every commit of a branch that records an ordinal, in one scan (an index walk on
#: (branch, ordinal)): (ordinal, sha, first start of the runs with a commit time,
#: commit time, the earliest moment its runs say existed, lowest and highest sort_at of
#: the runs with a commit time, highest sort_at of all).
_COMMITS_SQL = (
    "SELECT ancestry_ordinal, sha, "
    "MIN(CASE WHEN commit_utc IS NOT NULL THEN started_utc END), MIN(commit_utc), "
    "MIN(CASE WHEN commit_utc IS NOT NULL AND commit_utc < started_utc "
    "THEN commit_utc ELSE started_utc END), "
    "MIN(CASE WHEN commit_utc IS NOT NULL THEN sort_at END), "
    "MAX(CASE WHEN commit_utc IS NOT NULL THEN sort_at END), MAX(sort_at) FROM runs "
    "WHERE branch = :branch AND ancestry_ordinal IS NOT NULL "
    "GROUP BY ancestry_ordinal, sha ORDER BY 1, 2")
#: Whether the branch has a commit whose commit time is later than a run of it started,
#: or one placed elsewhere than its commit time (the common case is neither: one scan).
_ANY_SKEWED_SQL = (
    "SELECT 1 FROM runs WHERE branch = :branch AND ancestry_ordinal IS NOT NULL "
    "AND (commit_utc > started_utc OR sort_at <> commit_utc) LIMIT 1")
_SET_SQL = ("UPDATE runs SET sort_at = :sort_at "
            "WHERE branch = :branch AND sha = :sha AND sort_at <> :sort_at")
_BRANCHES_SQL = ("SELECT DISTINCT branch FROM runs WHERE branch IS NOT NULL "
                 "AND ancestry_ordinal IS NOT NULL ORDER BY branch")


def _places(rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    """The new ``sort_at`` of each skewed commit of one branch whose runs are not there
    yet, from ``_COMMITS_SQL``'s rows (ordinal order): one pass, whatever the number of
    skewed commits (a query per commit scanned the branch for each: an ingest into a
    history of 2,000 commits whose commit times were a few seconds ahead of their runs
    took seconds)."""
    by_ordinal: dict[Any, list[Sequence[Any]]] = {}
    for row in rows:
        by_ordinal.setdefault(row[0], []).append(row)
    ordinals = sorted(by_ordinal)
    later: dict[Any, str | None] = {}  # the earliest moment of a higher ordinal's runs
    running: str | None = None
    for ordinal in reversed(ordinals):
        later[ordinal] = running
        for row in by_ordinal[ordinal]:
            if row[4] is not None and (running is None or row[4] < running):
                running = row[4]
    places: dict[str, str] = {}
    seen: set[str] = set()
    earlier: str | None = None  # the latest place of a run with a lower ordinal
    for ordinal in ordinals:
        highest = earlier
        for _, sha, first_start, commit_utc, _, low, high, top in by_ordinal[ordinal]:
            place = places.get(sha, top)
            if sha not in seen and first_start is not None and commit_utc is not None:
                if commit_utc > first_start:  # skewed (at its lowest ordinal)
                    upper = (first_start if later[ordinal] is None
                             else min(first_start, later[ordinal]))
                    place = min(commit_utc, upper if earlier is None else max(earlier, upper))
                else:  # back to its commit time if it was moved (its first run deleted)
                    place = commit_utc
                if not low == high == place:
                    places[sha] = place
            seen.add(sha)
            if place is not None and (highest is None or place > highest):
                highest = place
        earlier = highest
    return places


def restore_ancestry_order(query: Query, execute: Execute, *,
                           branch: str | None) -> None:
    """Give the skewed commits of ``branch`` (None: of every branch) their place (see
    the module docstring), in the caller's write transaction. ``query``/``execute`` run
    one statement with named parameters on the backend's connection."""
    branches = ([branch] if branch is not None
                else [str(row[0]) for row in query(_BRANCHES_SQL, {})])
    for name in branches:
        if not query(_ANY_SKEWED_SQL, {"branch": name}):
            continue
        for sha, place in _places(query(_COMMITS_SQL, {"branch": name})).items():
            execute(_SET_SQL, {"branch": name, "sha": sha, "sort_at": place})


#: The commits whose runs record no ordinal (stored before it existed, plain
#: pytest-benchmark files): the caller that has the repository back-fills them.
MISSING_ORDINALS_SQL = ("SELECT DISTINCT sha FROM runs WHERE sha IS NOT NULL "
                        "AND ancestry_ordinal IS NULL ORDER BY sha")
SET_ORDINAL_SQL = ("UPDATE runs SET ancestry_ordinal = :ordinal "
                   "WHERE sha = :sha AND ancestry_ordinal IS NULL")
