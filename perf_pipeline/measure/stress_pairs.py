"""Fresh pairs of stress runs of two commits: what confirms a flagged stress figure.

Each pair runs only the stress tests that hold flagged figures (pytest node ids), once
at the baseline's commit and once at the candidate, each a fresh pytest process, in an
order drawn per pair: a busy spell then falls on either side alike, which is what makes
the pair's two runs exchangeable when nothing changed (``analysis/stress_confirm``).

Pairs are produced lazily, one per ``next()``, so the confirmation stops measuring as
soon as every flagged figure is decided. Every run's figures files are kept as written,
read-only, under ``raw/stress-confirm/<id>-<base12>-<cand12>/pair-NNN-<side>/stress/``,
with ``pairs.jsonl`` (one line per finished pair: its order and each side's error).
None of it enters the history: the pairs answer a question about two commits.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.atomic_file import make_dirs, write_atomic
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure.ab_selection import ABSelection
from perf_pipeline.measure.measuring_lock import measuring_lock
from perf_pipeline.measure.raw import new_run_id
from perf_pipeline.measure.session import error_text, run_in_worktree
from perf_pipeline.measure.stress_results import STRESS_SUBDIR, load_stress_figures
from perf_pipeline.measure.stress_session import MULTIPLIER_ENV, STRESS_DIR_ENV
from perf_pipeline.measure.tempdirs import measuring_temp_dir
from perf_pipeline.model import StressFigure

__all__ = ["PAIRS_FILE", "StressPairs"]

logger = logging.getLogger(__name__)

PAIRS_FILE = "pairs.jsonl"
SIDES = ("base", "candidate")

Figures = tuple[StressFigure, ...]


class StressPairs(Iterator[tuple[Figures, Figures]]):
    """``(baseline figures, candidate figures)`` of fresh pairs, measured on demand.

    A side that ran but failed its own assertions (a leak it measured) still yields
    the figures of the tests that finished; a side that measured nothing ends the pairs
    with ``MeasurementError``, the finished pairs kept.
    """

    def __init__(self, settings: Settings, base_sha: str, candidate_sha: str,
                 tests: Sequence[str], *, multiplier: float | None = None,
                 seed: int | None = None, raw_dir: Path | None = None) -> None:
        self.tests = ABSelection(node_ids=tuple(tests)).node_ids  # validated node ids
        if not self.tests:
            raise InvalidInputError("a stress confirmation needs at least one test")
        self.settings, self.base_sha, self.candidate_sha = settings, base_sha, candidate_sha
        # The flagged run's STRESS_MULTIPLIER, not today's setting: another multiplier is
        # another experiment (steps, sizes and worker counts scale with it).
        self._env = {} if multiplier is None else {MULTIPLIER_ENV: f"{multiplier!r}"}
        self.seed = secrets.randbits(32) if seed is None else seed
        self._rng = random.Random(self.seed)
        # A same-commit calibration keeps its pairs under raw/calibrate/ instead.
        self.raw_dir = raw_dir or settings.layout.stress_confirm_dir(new_run_id(), base_sha,
                                                                     candidate_sha)
        self.pairs_done = 0
        self.errors: list[str] = []
        self._lines: list[dict[str, object]] = []

    def __next__(self) -> tuple[Figures, Figures]:
        if self.pairs_done == 0:
            make_dirs(self.raw_dir, "stress confirmation folder (under --results-dir)",
                      exist_ok=False)
        index = self.pairs_done
        order = SIDES if self._rng.random() < 0.5 else SIDES[::-1]
        figures: dict[str, Figures] = {}
        errors: dict[str, str | None] = {}
        with measuring_lock(self.settings.measuring_lock_path):  # the pair's two runs
            for side in order:
                sha = self.base_sha if side == "base" else self.candidate_sha
                figures[side], errors[side] = self._side(index, side, sha)
        self.pairs_done += 1
        self._lines.append({"pair": index, "order": list(order), "errors": errors,
                            "t": datetime.now(timezone.utc).timestamp()})
        body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in self._lines)
        write_atomic(self.raw_dir / PAIRS_FILE, body.encode("utf-8"))
        empty = [side for side in SIDES if not figures[side]]
        if empty:
            reason = errors[empty[0]] or "the tests wrote no stress figures"
            raise MeasurementError(f"stress confirmation pair {index}, {empty[0]} side: "
                                   f"{reason}")
        return figures["base"], figures["candidate"]

    def _side(self, index: int, side: str, sha: str) -> tuple[Figures, str | None]:
        kept = self.raw_dir / f"pair-{index:03d}-{side}"
        with measuring_temp_dir("stress-confirm") as tmp:
            stress_dir = Path(tmp) / STRESS_SUBDIR
            outcome = run_in_worktree(self.settings, sha, "stress",
                                      Path(tmp) / "benchmark.json", (), paths=self.tests,
                                      env={**self._env, STRESS_DIR_ENV: str(stress_dir)})
            error = error_text(outcome)
            files = sorted(stress_dir.glob("*.stress.json")) if stress_dir.is_dir() else []
            make_dirs(kept / STRESS_SUBDIR, "stress confirmation pair folder")
            for path in files:
                write_atomic(kept / STRESS_SUBDIR / path.name, path.read_bytes(),
                             read_only=True)
        if error is not None:
            self.errors.append(error.splitlines()[0])
            logger.warning("stress confirmation pair %d, %s side at %s: %s", index, side,
                           sha[:12], error.splitlines()[0])
        try:
            return load_stress_figures(kept), error
        except InvalidInputError as exc:  # kept as written, for a person to read
            return (), f"unreadable stress figures: {exc}"
