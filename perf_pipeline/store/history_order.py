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
recomputed for a branch after each run of it is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MISSING_ORDINALS_SQL", "SET_ORDINAL_SQL", "restore_ancestry_order"]

Query = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]
Execute = Callable[[str, dict[str, Any]], None]

#: Commits of a branch whose commit time is later than their first run's start:
#: (sha, ordinal, first start, commit time), lowest ordinal first.
_SKEWED_SQL = (
    "SELECT sha, MIN(ancestry_ordinal), MIN(started_utc), MIN(commit_utc) FROM runs "
    "WHERE branch = :branch AND ancestry_ordinal IS NOT NULL AND commit_utc IS NOT NULL "
    "GROUP BY sha HAVING MIN(commit_utc) > MIN(started_utc) ORDER BY 2, 1")
#: The earliest moment any run of the branch with a higher ordinal says existed.
_UPPER_SQL = (
    "SELECT MIN(CASE WHEN commit_utc IS NOT NULL AND commit_utc < started_utc "
    "THEN commit_utc ELSE started_utc END) FROM runs "
    "WHERE branch = :branch AND ancestry_ordinal > :ordinal")
#: The latest place of a run of the branch with a lower ordinal.
_LOWER_SQL = ("SELECT MAX(sort_at) FROM runs "
              "WHERE branch = :branch AND ancestry_ordinal < :ordinal")
_SET_SQL = ("UPDATE runs SET sort_at = :sort_at "
            "WHERE branch = :branch AND sha = :sha AND sort_at <> :sort_at")
_BRANCHES_SQL = ("SELECT DISTINCT branch FROM runs WHERE branch IS NOT NULL "
                 "AND ancestry_ordinal IS NOT NULL ORDER BY branch")


def restore_ancestry_order(query: Query, execute: Execute, *,
                           branch: str | None) -> None:
    """Give the skewed commits of ``branch`` (None: of every branch) their place (see
    the module docstring), in the caller's write transaction. ``query``/``execute`` run
    one statement with named parameters on the backend's connection."""
    branches = ([branch] if branch is not None
                else [str(row[0]) for row in query(_BRANCHES_SQL, {})])
    for name in branches:
        for sha, ordinal, first_start, commit_utc in query(_SKEWED_SQL, {"branch": name}):
            where = {"branch": name, "ordinal": ordinal}
            later = query(_UPPER_SQL, where)[0][0]
            earlier = query(_LOWER_SQL, where)[0][0]
            upper = min(first_start, later) if later is not None else first_start
            place = min(commit_utc, max(earlier, upper) if earlier is not None else upper)
            execute(_SET_SQL, {"branch": name, "sha": sha, "sort_at": place})


#: The commits whose runs record no ordinal (stored before it existed, plain
#: pytest-benchmark files): the caller that has the repository back-fills them.
MISSING_ORDINALS_SQL = ("SELECT DISTINCT sha FROM runs WHERE sha IS NOT NULL "
                        "AND ancestry_ordinal IS NULL ORDER BY sha")
SET_ORDINAL_SQL = ("UPDATE runs SET ancestry_ordinal = :ordinal "
                   "WHERE sha = :sha AND ancestry_ordinal IS NULL")
