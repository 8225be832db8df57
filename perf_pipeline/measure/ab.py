"""Interleaved A/B measurement: two commits measured alternately on one machine.

A run judged against a stored baseline carries the machine's mood of its moment; on a
shared machine that is most of the noise. Here each round runs both commits back to back,
in an order drawn at random per round, so a slow drift or a busy spell hits both sides of
a round alike and the per-round ratio cancels it. It is how a suspect commit is confirmed
against its parent, and how a PR can be judged when there is no history yet.

Rounds are produced lazily (``iter_ab_rounds``): one round per ``next()``, so a
sequential test can stop measuring as soon as it has decided, and a confirmation can run
only the benchmarks it needs (``ABSelection``, checked in ``ab_selection``: pytest node
ids and/or a ``-k`` expression, passed to pytest as separate arguments, never through a
shell).

Each side of a round runs in ``processes`` pytest processes (``Settings.ab_processes``),
alternating with the other side's (ABAB or BABA, the round's order): the process is the
unit of noise, and the fastest sample of two processes is far more repeatable than that
of one (``analysis.AB_PROCESSES``). A side's run pools their samples (``merge_processes``),
of the benchmarks measured in all of them. The rounds themselves (order, lock, budget,
sides, manifest) are ``ABRounds``, in ``ab_rounds``; this module checks an A/B's input
and starts it.

Every process's JSON and the run's manifest are kept under ``raw/ab/<id>/``
(``ab_raw``), none of it in the history: an A/B run answers a question about two
commits, it is not a point in their series.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from perf_pipeline.atomic_file import make_dirs
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.ab_raw import AB_MANIFEST, ab_raw_dir
from perf_pipeline.measure.ab_rounds import ABRound, ABRounds, ABRun
from perf_pipeline.measure.ab_selection import ABSelection, check_selection_exists
from perf_pipeline.measure.git import commit_info, resolve_commit
from perf_pipeline.measure.raw import new_run_id

# ``AB_MANIFEST``, ``ABSelection`` and the rounds' classes live in ``ab_raw``,
# ``ab_selection`` and ``ab_rounds``; they are named here too, as part of the A/B's API.
__all__ = ["AB_MANIFEST", "ABRound", "ABRounds", "ABRun", "ABSelection", "iter_ab_rounds",
           "measure_ab"]

#: Fewer rounds cannot reach significance with a signed-rank test at usual levels.
MIN_ROUNDS = 2


def iter_ab_rounds(
    settings: Settings,
    base_ref: str,
    candidate_ref: str,
    *,
    max_rounds: int,
    select: ABSelection | None = None,
    seed: int | None = None,
    budget_s: float | None = None,
    on_round: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    check_selection: bool = False,
) -> ABRounds:
    """Prepare an A/B run of ``base_ref`` against ``candidate_ref``; measure nothing yet.

    Refs are resolved (and option-like ones refused) here, so bad input fails before any
    measurement; with ``check_selection`` (a person's node ids and controls, not the
    confirmation's, whose failures are values) the files the selection names must exist
    at both commits. Each ``next()`` measures one round: ``settings.ab_processes`` pytest
    processes per side, alternating, in the commit's worktree, in an order drawn from
    ``seed``. A side that crashes, fails or
    times out raises ``MeasurementError`` (rounds done so far and the manifest are
    kept): a paired comparison with holes in it would not be one.
    """
    if max_rounds < MIN_ROUNDS:
        raise InvalidInputError(f"an A/B run needs at least {MIN_ROUNDS} rounds, not {max_rounds}")
    if budget_s is not None and not budget_s > 0:
        raise InvalidInputError(f"the A/B time budget must be > 0 s, not {budget_s!r}")
    repo = Path(settings.repo_path)
    base_sha = resolve_commit(repo, base_ref)
    candidate_sha = resolve_commit(repo, candidate_ref)
    if base_sha == candidate_sha:
        raise InvalidInputError(f"{base_ref!r} and {candidate_ref!r} are the same commit "
                                f"{base_sha[:12]}")
    if check_selection:
        check_selection_exists(settings, select or ABSelection(),
                                {"base": base_sha, "candidate": candidate_sha})
    seed = secrets.randbits(32) if seed is None else seed
    ab_id = new_run_id()
    raw_dir = ab_raw_dir(settings, ab_id, base_sha, candidate_sha)
    make_dirs(raw_dir, "A/B raw folder (under --results-dir)")
    return ABRounds(settings=settings, ab_id=ab_id, seed=seed,
                    base=commit_info(repo, base_sha), candidate=commit_info(repo, candidate_sha),
                    raw_dir=raw_dir, selection=select or ABSelection(), max_rounds=max_rounds,
                    budget_s=budget_s, on_round=on_round, clock=clock)


def measure_ab(
    settings: Settings,
    base_ref: str,
    candidate_ref: str,
    *,
    rounds: int = 10,
    seed: int | None = None,
    select: ABSelection | None = None,
    on_round: Callable[[int, int], None] | None = None,
    check_selection: bool = False,
) -> ABRun:
    """Run the benchmark suite of both commits ``rounds`` times, interleaved (all of them)."""
    with iter_ab_rounds(settings, base_ref, candidate_ref, max_rounds=rounds, seed=seed,
                        select=select, on_round=on_round,
                        check_selection=check_selection) as ab_rounds:
        for _ in ab_rounds:
            pass
    return ab_rounds.to_run()
