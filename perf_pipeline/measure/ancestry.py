"""Back-filling the first-parent ordinals of stored runs from the repository.

History keeps commits in ancestry order where their runs record the ordinal
(``CommitInfo.ancestry_ordinal``, ``store/history_order.py``). Runs stored before it
was recorded, and plain pytest-benchmark files, have none: they kept commit-time order,
so rebased commits measured out of order, and a commit dated in the future by a skewed
clock, stayed out of order for ever. Whenever the repository is at hand (``ingest``,
``analyze``, measuring a commit), the commits it holds get their ordinal. A commit it
does not hold (another repository's files, a rewritten branch) keeps none; asking for it
again costs one git call for all of them together.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.errors import MeasurementError
from perf_pipeline.measure.git import is_full_sha, is_shallow, run_git

if TYPE_CHECKING:  # the store is only called here
    from perf_pipeline.store import HistoryStore

__all__ = ["backfill_ancestry_ordinals"]

logger = logging.getLogger(__name__)

#: SHAs per ``git rev-list`` call (the argument list stays far below any OS limit).
_BATCH = 500


def _commits_in_repo(repo: Path, shas: Sequence[str]) -> list[str]:
    """Those of ``shas`` (full SHAs) that are commits of ``repo``, in one git call per
    ``_BATCH``; none if ``repo`` is not a git repository, or a shallow clone (a CI
    checkout of depth 1), whose first-parent counts stop at its cut, or git cannot run
    (a machine that only ingests and judges files: ``ingest`` must not fail for it)."""
    try:
        if is_shallow(repo):
            return []
        found: list[str] = []
        for start in range(0, len(shas), _BATCH):
            found.extend(_present(repo, shas[start:start + _BATCH]))
    except MeasurementError as exc:  # no git on this machine, a look-up timed out
        logger.debug("repository %s: cannot look commits up: %s", repo, exc)
        return []
    return found


def _present(repo: Path, batch: Sequence[str]) -> list[str]:
    """Those of ``batch`` that are commits of ``repo``, each before its ancestors (one
    git call: a walk in topological order, so that the first of a branch's commits is its
    newest even when they share a commit time, as a rebase makes them)."""
    proc = run_git(repo, ["rev-list", "--topo-order", "--ignore-missing", *batch, "--"],
                   check=False)
    if proc.returncode != 0:
        raise MeasurementError(f"git rev-list in {repo} failed: {proc.stderr.strip()[-300:]}")
    wanted = set(batch)
    return [line for line in proc.stdout.split() if line in wanted]


def _ordinals(repo: Path, shas: Sequence[str]) -> dict[str, int]:
    """The first-parent ordinal of each of ``shas`` (commits of ``repo``, descendants
    first, as ``_present`` lists them): one ``rev-list --first-parent`` of a commit not
    placed yet names the whole chain below it, and a commit at position ``i`` of that
    chain (newest first) has ``len(chain) - i`` commits on its own. A history of one
    branch takes one git call, not one per commit (each walking the whole chain: a first
    ingest after the upgrade of a history of 2,000 commits made 4,000 git calls)."""
    wanted = set(shas)
    ordinals: dict[str, int] = {}
    for sha in shas:
        if sha in ordinals:
            continue
        try:
            proc = run_git(repo, ["rev-list", "--first-parent", sha, "--"], check=False)
        except MeasurementError as exc:
            logger.debug("commit %s: no ordinal: %s", sha, exc)
            continue
        if proc.returncode != 0:  # gone since the look-up
            logger.debug("commit %s: no ordinal: %s", sha, proc.stderr.strip()[-300:])
            continue
        chain = proc.stdout.split()
        for i, listed in enumerate(chain):
            if listed in wanted and listed not in ordinals:
                ordinals[listed] = len(chain) - i
    return ordinals


def backfill_ancestry_ordinals(repo: Path, store: HistoryStore) -> int:
    """Record the first-parent ordinal of every stored commit without one that ``repo``
    holds, and put commits dated in the future in their place (``store/history_order``);
    returns how many runs got an ordinal."""
    missing = [sha for sha in store.commits_without_ordinal() if is_full_sha(sha)]
    ordinals = _ordinals(Path(repo), _commits_in_repo(Path(repo), missing)) if missing else {}
    # also with none to record: restores the order of a history just migrated
    updated = store.record_ancestry_ordinals(ordinals)
    if not ordinals:
        return 0
    logger.info("history %s: recorded the ancestry ordinal of %d commit(s) (%d runs)",
                store.target, len(ordinals), updated)
    return updated
