"""The lazy rounds of one A/B run: one round per ``next()``, the manifest however they end.

Each round draws its order from the run's seed and measures both sides back to back,
each in ``Settings.ab_processes`` pytest processes alternating with the other side's
(ABAB or BABA); a side's run pools the samples of the benchmarks measured in all of its
processes (``_side_run``). Every round runs under one hold of the machine's measuring
lock, so waiting for it never eats the time budget, and the budget stops the rounds
before one that would likely overrun it. However the rounds end (all done, the budget
spent, closed early, a side failed, interrupted) the manifest is written once
(``ab_raw``). ``ab.iter_ab_rounds`` checks the input and makes an ``ABRounds``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from perf_pipeline.config import Settings
from perf_pipeline.errors import (
    InvalidInputError,
    MeasurementError,
    interruption_text,
)
from perf_pipeline.measure.ab_raw import AB_MANIFEST, compact_round_json, keep_ab_file
from perf_pipeline.measure.ab_selection import ABSelection
from perf_pipeline.measure.measuring_lock import (
    holds_of_this_thread,
    lent_hold,
    measuring_lock,
)
from perf_pipeline.measure.results import load_results, merge_processes
from perf_pipeline.measure.session import KEEP_WORKTREES, error_text, run_in_worktree
from perf_pipeline.measure.tempdirs import measuring_temp_dir, sweep_stale_temp_dirs
from perf_pipeline.measure.worktree import prune_worktrees
from perf_pipeline.model import CommitInfo, SuiteRun

__all__ = ["ABRound", "ABRounds", "ABRun"]

logger = logging.getLogger(__name__)

SIDES = ("base", "candidate")


@dataclass(frozen=True, slots=True)
class ABRound:
    """One round: both commits measured back to back, ``order[0]`` first."""

    index: int
    order: tuple[str, str]
    base: SuiteRun
    candidate: SuiteRun
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ABRun:
    """All rounds of an A/B run, and where their raw files are."""

    ab_id: str
    base: CommitInfo
    candidate: CommitInfo
    rounds: tuple[ABRound, ...]
    seed: int
    raw_dir: Path
    stopped: str = "max_rounds"  # see ABRounds.stopped
    processes: int = 1  # pytest processes per side and round


@dataclass(eq=False)
class ABRounds(Iterator[ABRound]):
    """The lazy rounds of one A/B run: an iterator that measures one round per ``next``.

    ``stopped`` says why the rounds ended: ``"max_rounds"``, ``"budget"`` (the next round
    would likely overrun ``budget_s``), ``"closed"`` (the consumer stopped early),
    ``"error"`` (a side failed: ``MeasurementError``), or ``None`` while running. Close it
    (``with`` block or ``close()``) when done early: that writes the manifest at once.
    """

    settings: Settings
    ab_id: str
    seed: int
    base: CommitInfo
    candidate: CommitInfo
    raw_dir: Path
    selection: ABSelection
    max_rounds: int
    budget_s: float | None
    on_round: Callable[[int, int], None] | None = None
    clock: Callable[[], float] = time.monotonic
    done: list[ABRound] = field(default_factory=list, init=False)
    orders: list[tuple[str, str]] = field(default_factory=list, init=False)
    stopped: str | None = field(default=None, init=False)
    error: str | None = field(default=None, init=False)
    elapsed_s: float = field(default=0.0, init=False)
    _gen: Generator[ABRound, None, None] | None = field(default=None, init=False, repr=False)
    #: The measuring locks of the thread that started the rounds: the rounds' hold of the
    #: lock is lent to the thread that asks for the next one.
    _holds: dict[str, list] | None = field(default=None, init=False, repr=False)
    #: (first round, node ids) for each ``narrow``; the manifest keeps the first selection.
    narrowed: list[tuple[int, tuple[str, ...]]] = field(default_factory=list, init=False)
    _first_selection: ABSelection | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._first_selection = self.selection
        self._gen = self._generate()

    def __iter__(self) -> ABRounds:
        return self

    def __next__(self) -> ABRound:
        assert self._gen is not None
        if self._holds is None:  # the thread of the first round takes the lock
            self._holds = holds_of_this_thread()
        with lent_hold(self._holds, self.settings.measuring_lock_path):
            return next(self._gen)

    def narrow(self, node_ids: Sequence[str]) -> None:
        """Measure only ``node_ids`` from the next round on (a subset of the selection):
        a confirmation drops what it has decided."""
        keep = tuple(dict.fromkeys(node_ids))
        if not self.selection.node_ids:
            raise InvalidInputError("only a selection of node ids can be narrowed")
        unknown = sorted(set(keep) - set(self.selection.node_ids))
        if unknown or not keep:
            raise InvalidInputError(
                f"cannot narrow the A/B to {unknown[0]!r}: not in its selection" if unknown
                else "cannot narrow the A/B to nothing")
        self.selection = ABSelection(
            node_ids=keep, keyword=self.selection.keyword,
            controls=tuple(c for c in self.selection.controls if c not in keep))
        self.narrowed.append((len(self.orders) + 1, keep))

    def close(self) -> None:
        """Stop measuring; the manifest is written if it was not yet."""
        if self._gen is not None:
            self._gen.close()
        if self.stopped is None:  # closed before the first round: the body never ran
            self.stopped = "closed"
        self._finish()

    def __enter__(self) -> ABRounds:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def to_run(self) -> ABRun:
        return ABRun(ab_id=self.ab_id, base=self.base, candidate=self.candidate,
                     rounds=tuple(self.done), seed=self.seed, raw_dir=self.raw_dir,
                     stopped=self.stopped or "closed",
                     processes=self.settings.ab_processes)

    def _over_budget(self) -> bool:
        if self.budget_s is None or not self.done:
            return False
        per_round = self.elapsed_s / len(self.done)
        return self.elapsed_s + per_round > self.budget_s

    def _generate(self) -> Generator[ABRound, None, None]:
        rng = random.Random(self.seed)
        shas = {"base": self.base.sha, "candidate": self.candidate.sha}
        commits = {"base": self.base, "candidate": self.candidate}
        start = self.clock()
        sweep_stale_temp_dirs()
        try:
            # Every round under one hold of the lock: waiting for it between rounds would
            # eat the time budget, and another run's load would fall between the rounds.
            with measuring_lock(self.settings.measuring_lock_path), \
                    measuring_temp_dir("ab") as tmp:
                start = self.clock()  # time spent waiting for the lock is not the A/B's
                for index in range(1, self.max_rounds + 1):
                    if self._over_budget():
                        self.stopped = "budget"
                        return
                    order = SIDES if rng.random() < 0.5 else SIDES[::-1]
                    self.orders.append(order)
                    round_start = self.clock()
                    # Without node ids: none, so each side runs the suite's own paths
                    # as ``run`` does (one added to benchmark_paths later is left out
                    # at an older commit; a commit without the suite says so).
                    paths = self.selection.paths(())
                    measured: dict[str, list[SuiteRun]] = {side: [] for side in order}
                    for process in range(1, self.settings.ab_processes + 1):
                        for side in order:
                            measured[side].append(self._measure_side(
                                Path(tmp), index, side, shas[side], commits[side], paths,
                                process))
                            if index == 1 and process == 1 and side == order[0]:
                                self._check_controls(measured[side][0], side, shas[side])
                    runs = {side: _side_run(measured[side]) for side in order}
                    self.elapsed_s = self.clock() - start
                    rnd = ABRound(index=index, order=order, base=runs["base"],
                                  candidate=runs["candidate"],
                                  duration_s=self.clock() - round_start)
                    self.done.append(rnd)
                    if self.on_round is not None:
                        self.on_round(index, self.max_rounds)
                    yield rnd
                self.stopped = "max_rounds"
        except GeneratorExit:
            self.stopped = "closed"
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP via the CLI
            self.stopped = "interrupted"
            self.error = f"round {len(self.orders)}: {interruption_text(exc)}"
            raise
        except Exception as exc:
            self.stopped = "error"
            self.error = self.error or f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.elapsed_s = self.clock() - start
            self._finish()

    def _measure_side(self, tmp: Path, index: int, side: str, sha: str, commit: CommitInfo,
                      paths: tuple[str, ...], process: int = 1) -> SuiteRun:
        suffix = "" if process == 1 else f"-{process}"
        json_path = tmp / f"round-{index:03d}-{side}{suffix}.json"
        outcome = run_in_worktree(self.selection.measuring_settings(self.settings), sha,
                                  "benchmarks", json_path, self.selection.pytest_args(),
                                  paths=paths)
        error = error_text(outcome)
        if error is None and outcome.json_path is not None:
            kept = self.raw_dir / f"{json_path.name}.gz"  # sorted samples, gzipped (raw.py)
            keep_ab_file(kept, compact_round_json(json_path.read_bytes()))
            try:
                run = load_results(kept)
            except InvalidInputError as exc:
                error = f"invalid benchmark JSON: {exc}"
            else:
                return replace(run, run_id=f"{self.ab_id}-r{index:03d}-{side}",
                               commit=commit, raw_path=str(kept))
        if outcome.returncode == 5 and (self.selection.keyword or self.selection.node_ids):
            # "check the benchmark paths and markers" sent people to their settings
            # when their own -k or --node-id had selected nothing.
            keyword = self.selection.keyword
            chosen = " ".join([*([f"-k {keyword!r}"] if keyword else []),
                               *(f"--node-id {n!r}" for n in self.selection.node_ids)])
            error = f"the A/B's selection ({chosen}) matched no test at this commit; {error}"
        elif outcome.returncode == 4 and self.selection.node_ids:
            # pytest's usage error, most likely a test this commit does not have (a file
            # missing is refused before measuring), said only in the output's tail.
            error = ("pytest exited with a usage error (code 4), most likely a --node-id "
                     f"or --control this commit does not have (see below); {error}")
        n = self.settings.ab_processes
        where = "" if n == 1 else f" (process {process} of {n})"
        self.error = f"round {index}, {side} {sha[:12]}{where}: {error}"
        logger.warning("A/B run %s stopped: %s", self.ab_id, self.error.splitlines()[0])
        raise MeasurementError(f"A/B run stopped at {self.error}\n"
                               f"(raw files kept in {self.raw_dir})")

    def _check_controls(self, run: SuiteRun, side: str, sha: str) -> None:
        """Each control must cover a benchmark of the A/B's first process: one that
        matches none (a plain test, a typo in a parameter) was found out only after the
        whole first round, both sides and every process, had been measured."""
        names = [b.name for b in run.benchmarks if b.samples_s]
        for control, covered in self.selection.control_matches(names).items():
            if not covered:
                self.error = (f"round 1, {side} {sha[:12]}: control {control!r} matched "
                              "no benchmark")
                raise InvalidInputError(
                    f"control {control!r} matched no benchmark of {side} {sha[:12]} "
                    f"(checked on the A/B's first process; measured: "
                    f"{', '.join(sorted(names)) or 'nothing'})")

    def _finish(self) -> None:
        """Write the manifest (once) and prune old worktrees: however the rounds ended."""
        if (self.raw_dir / AB_MANIFEST).exists():
            return
        manifest = {
            "ab_id": self.ab_id, "seed": self.seed, "rounds_planned": self.max_rounds,
            "processes_per_side": self.settings.ab_processes,
            "rounds_done": len(self.done), "stopped": self.stopped or "closed",
            "budget_s": self.budget_s, "elapsed_s": round(self.elapsed_s, 3),
            "selection": (self._first_selection or self.selection).describe(),
            "narrowed": [{"from_round": i, "node_ids": list(ids)} for i, ids in self.narrowed],
            "base": self.base.sha, "candidate": self.candidate.sha,
            "orders": [list(o) for o in self.orders], "error": self.error,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        keep_ab_file(self.raw_dir / AB_MANIFEST, json.dumps(manifest, indent=2).encode())
        prune_worktrees(Path(self.settings.repo_path), self.settings.worktrees_dir,
                        keep=KEEP_WORKTREES)


def _side_run(runs: list[SuiteRun]) -> SuiteRun:
    """One side of a round: its processes' samples pooled (one process: as it is).

    Only the benchmarks measured in every process of the side are pooled; one that some
    process did not measure (a flaky ``pytest.skip``) is missing from this side of the
    round, as if no process had measured it. Judging already deals with a benchmark
    missing from some rounds (inconclusive, or listed as missing) while the others go
    on; pooling it over fewer processes would make this side's value unlike the others,
    and refusing it stopped the whole A/B.
    """
    if len(runs) == 1:
        return runs[0]
    common = set.intersection(*({b.name for b in r.benchmarks} for r in runs))
    dropped = sorted({b.name for r in runs for b in r.benchmarks} - common)
    if dropped:
        logger.warning("%s: benchmarks %s were not measured in every process of the "
                       "side; missing from this round", runs[0].run_id, dropped)
    return replace(runs[0], benchmarks=merge_processes(
        *(tuple(b for b in r.benchmarks if b.name in common) for r in runs)))
