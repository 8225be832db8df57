"""Interleaved A/B measurement: two commits measured alternately on one machine.

A run judged against a stored baseline carries the machine's mood of its moment; on a
shared machine that is most of the noise. Here each round runs both commits back to back,
in an order drawn at random per round, so a slow drift or a busy spell hits both sides of
a round alike and the per-round ratio cancels it (``analysis.compare(paired=True)``).
It is how a suspect commit is confirmed against its parent, and how a PR can be judged
when there is no history yet.

Every round's pytest-benchmark JSON is kept under ``raw/ab/<id>/`` (written once) with an
``ab.json`` manifest. None of it enters the history: an A/B run answers a question about
two commits, it is not a point in their series.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError, interruption_text
from perf_pipeline.measure.git import commit_info, resolve_commit
from perf_pipeline.measure.raw import new_run_id
from perf_pipeline.measure.results import load_results
from perf_pipeline.measure.session import KEEP_WORKTREES, error_text, run_in_worktree
from perf_pipeline.measure.tempdirs import measuring_temp_dir, sweep_stale_temp_dirs
from perf_pipeline.measure.worktree import prune_worktrees
from perf_pipeline.model import CommitInfo, SuiteRun

__all__ = ["AB_MANIFEST", "ABRound", "ABRun", "measure_ab"]

logger = logging.getLogger(__name__)

#: The manifest of an A/B run, next to its rounds' JSON files.
AB_MANIFEST = "ab.json"

#: Fewer rounds cannot reach significance with a signed-rank test at usual levels.
MIN_ROUNDS = 2

SIDES = ("base", "candidate")


@dataclass(frozen=True, slots=True)
class ABRound:
    """One round: both commits measured back to back, ``order[0]`` first."""

    index: int
    order: tuple[str, str]
    base: SuiteRun
    candidate: SuiteRun


@dataclass(frozen=True, slots=True)
class ABRun:
    """All rounds of an A/B run, and where their raw files are."""

    ab_id: str
    base: CommitInfo
    candidate: CommitInfo
    rounds: tuple[ABRound, ...]
    seed: int
    raw_dir: Path


def _ab_dir(settings: Settings, ab_id: str, base: str, candidate: str) -> Path:
    return settings.raw_dir / "ab" / f"{ab_id}-{base[:12]}-{candidate[:12]}"


def _manifest(ab_id: str, seed: int, commits: dict[str, CommitInfo],
              orders: list[tuple[str, str]], rounds: int, error: str | None) -> bytes:
    return json.dumps({
        "ab_id": ab_id, "seed": seed, "rounds_planned": rounds,
        "rounds_done": len(orders) - (1 if error else 0),
        "base": commits["base"].sha, "candidate": commits["candidate"].sha,
        "orders": [list(o) for o in orders], "error": error,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }, indent=2).encode()


def measure_ab(
    settings: Settings,
    base_ref: str,
    candidate_ref: str,
    *,
    rounds: int = 10,
    seed: int | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> ABRun:
    """Run the benchmark suite of both commits ``rounds`` times, interleaved.

    Each side of a round is one pytest process in the commit's worktree, as one process
    of ``measure_commit``. A side that crashes, fails or times out stops the A/B run with
    ``MeasurementError`` (the rounds done so far and the manifest are kept): a paired
    comparison with holes in it would not be one.
    """
    if rounds < MIN_ROUNDS:
        raise InvalidInputError(f"an A/B run needs at least {MIN_ROUNDS} rounds, not {rounds}")
    repo = Path(settings.repo_path)
    shas = {"base": resolve_commit(repo, base_ref),
            "candidate": resolve_commit(repo, candidate_ref)}
    if shas["base"] == shas["candidate"]:
        raise InvalidInputError(f"{base_ref!r} and {candidate_ref!r} are the same commit "
                                f"{shas['base'][:12]}")
    commits = {side: commit_info(repo, sha) for side, sha in shas.items()}
    seed = secrets.randbits(32) if seed is None else seed
    rng = random.Random(seed)
    ab_id = new_run_id()
    raw_dir = _ab_dir(settings, ab_id, shas["base"], shas["candidate"])
    raw_dir.mkdir(parents=True, exist_ok=True)
    orders: list[tuple[str, str]] = []
    done: list[ABRound] = []
    error = None
    sweep_stale_temp_dirs()
    interrupted: KeyboardInterrupt | None = None
    with measuring_temp_dir("ab") as tmp:
        try:
            for index in range(1, rounds + 1):
                order = SIDES if rng.random() < 0.5 else SIDES[::-1]
                orders.append(order)
                runs: dict[str, SuiteRun] = {}
                for side in order:
                    json_path = Path(tmp) / f"round-{index:03d}-{side}.json"
                    outcome = run_in_worktree(settings, shas[side], "benchmarks", json_path, ())
                    error = error_text(outcome)
                    if error is None and outcome.json_path is not None:
                        kept = raw_dir / json_path.name
                        write_atomic(kept, json_path.read_bytes(), read_only=True)
                        try:
                            run = load_results(kept)
                        except InvalidInputError as exc:
                            error = f"invalid benchmark JSON: {exc}"
                        else:
                            runs[side] = replace(run, run_id=f"{ab_id}-r{index:03d}-{side}",
                                                 commit=commits[side], raw_path=str(kept))
                    if error is not None:
                        error = f"round {index}, {side} {shas[side][:12]}: {error}"
                        break
                if error is not None:
                    break
                done.append(ABRound(index=index, order=order, base=runs["base"],
                                    candidate=runs["candidate"]))
                if on_round is not None:
                    on_round(index, rounds)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP via the CLI
            interrupted = exc
            error = f"round {len(orders)}: {interruption_text(exc)}"
    write_atomic(raw_dir / AB_MANIFEST,
                 _manifest(ab_id, seed, commits, orders, rounds, error), read_only=True)
    if interrupted is not None:
        raise interrupted
    prune_worktrees(repo, settings.worktrees_dir, keep=KEEP_WORKTREES)
    if error is not None:
        logger.warning("A/B run %s stopped: %s", ab_id, error.splitlines()[0])
        raise MeasurementError(f"A/B run stopped at {error}\n(raw files kept in {raw_dir})")
    return ABRun(ab_id=ab_id, base=commits["base"], candidate=commits["candidate"],
                 rounds=tuple(done), seed=seed, raw_dir=raw_dir)
