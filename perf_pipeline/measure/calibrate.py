"""Calibration: many interleaved pairs of processes of ONE commit, and their corpus.

Two separate worktrees (``a`` and ``b``) hold the same commit. Each pair runs the suite
once in each, in an order drawn at random per pair, each side a fresh pytest process.
Because nothing differs but the process and the moment, the pairs record the real noise
of this machine in both forms the gate meets it: single processes against each other
(a stored baseline) and processes side by side (an interleaved A/B).

Raw layout (shared with recordings made elsewhere, and read back by
``corpus_from_raw_pairs``)::

    <dir>/pair-0000-a.json    pytest-benchmark JSON of pair 0, worktree a (kept as is)
    <dir>/pair-0000-b.json
    <dir>/orders.jsonl        one line per finished pair:
                              {"pair": 0, "order": ["b", "a"], "ok": true, "t": <unix>}

A pair's line is written only after both of its sides, so an interrupted calibration
leaves a directory whose finished pairs are all usable.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from perf_pipeline.atomic_file import make_dirs, write_atomic
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError, StoreError
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.measure.json_input import path_kind
from perf_pipeline.measure.measuring_lock import measuring_lock
from perf_pipeline.measure.raw import new_run_id
from perf_pipeline.measure.results import load_results
from perf_pipeline.measure.session import error_text, no_project_dir, run_prepared
from perf_pipeline.measure.tempdirs import measuring_temp_dir, sweep_stale_temp_dirs
from perf_pipeline.measure.worktree import git_worktree, prune_worktrees
from perf_pipeline.model import NOISE_SIDES, NoiseCorpus, NoisePair, SuiteRun, is_noise_order

__all__ = ["ORDERS_FILE", "CalibrationRun", "corpus_from_raw_pairs", "measure_calibration",
           "pair_file_name"]

logger = logging.getLogger(__name__)

ORDERS_FILE = "orders.jsonl"
#: Worktrees kept per side after a calibration: one commit (calibrating it again reuses
#: them), as each side has a checkout of its own (with a "uv" runner, an environment too).
KEEP_CALIBRATION_WORKTREES = 1
_PAIR_FILE = re.compile(r"^pair-(\d{4,})-([ab])\.json$")


def pair_file_name(index: int, side: str) -> str:
    return f"pair-{index:04d}-{side}.json"


def _keep(path: Path, data: bytes, *, read_only: bool = False) -> None:
    """Write one of the calibration's raw files; a full disk or a read-only folder is a
    ``StoreError`` naming it (a bare ``OSError`` ended ``calibrate`` with exit 3, "a bug
    in perf_pipeline", after the pairs it had measured)."""
    try:
        write_atomic(path, data, read_only=read_only)
    except OSError as exc:
        raise StoreError(f"calibration raw file {path}: cannot write it: "
                         f"{exc.strerror or exc}") from exc


# -- reading a raw pairs directory ------------------------------------------------------

def _read_orders(path: Path, on_skip: Callable[[int | None, str], None]
                 ) -> dict[int, dict[str, object]]:
    """The manifest's lines by pair number. A torn last line (an interrupted write) is
    skipped; anything else malformed is an error."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"pairs manifest {path} cannot be read: {exc}") from exc
    entries: dict[int, dict[str, object]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            index = entry["pair"]
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise ValueError(f"pair {index!r} is not a whole number")
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                on_skip(None, f"{path.name} line {number} is incomplete")
                continue
            raise InvalidInputError(f"pairs manifest {path} line {number} is malformed: "
                                    f"{exc}") from exc
        if index in entries:
            raise InvalidInputError(f"pairs manifest {path} lists pair {index} twice")
        entries[index] = entry
    return entries


def _machine(run: SuiteRun) -> tuple[tuple[str, str], ...]:
    return run.environment.noise_machine if run.environment is not None else ()


def _iso_utc(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def corpus_from_raw_pairs(
    raw_dir: Path,
    *,
    suite: str = "benchmarks",
    commit: str | None = None,
    note: str = "",
    on_skip: Callable[[int | None, str], None] | None = None,
) -> NoiseCorpus:
    """Build a corpus from a raw pairs directory (see the module docstring).

    Pairs the manifest marks not ok, and pairs missing a side, are skipped: each skip is
    reported to ``on_skip(pair number, reason)`` and counted in the corpus's note. A
    listed ok pair whose JSON is unreadable is an error, as are sides recorded on
    different machines or commits. The files must name one commit; ``commit`` (a full
    SHA) names it for files that record none (recorded elsewhere, or by a
    pytest-benchmark that saved no commit info), and must match the one they do record.
    Only benchmarks measured in every kept process enter the corpus.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise InvalidInputError(f"raw pairs directory {raw_dir} " + (
            "is not a directory" if raw_dir.exists() else "does not exist"))
    skipped: list[tuple[int | None, str]] = []

    def skip(index: int | None, reason: str) -> None:
        skipped.append((index, reason))
        logger.info("raw pairs %s: skipping pair %s: %s", raw_dir, index, reason)
        if on_skip is not None:
            on_skip(index, reason)

    manifest = raw_dir / ORDERS_FILE
    if not manifest.is_file():
        raise InvalidInputError(f"raw pairs directory {raw_dir} has no {ORDERS_FILE}")
    entries = _read_orders(manifest, skip)
    on_disk = {int(m.group(1)) for p in raw_dir.iterdir()
               if (m := _PAIR_FILE.match(p.name))}
    for index in sorted(on_disk - set(entries)):
        skip(index, f"not in {ORDERS_FILE} (unfinished)")
    kept: list[tuple[int, tuple[str, str], dict[str, SuiteRun]]] = []
    for index in sorted(entries):
        entry = entries[index]
        order = entry.get("order")
        if entry.get("ok") is not True:
            skip(index, "marked not ok (a side failed)")
            continue
        if not (isinstance(order, list) and is_noise_order(order)):
            raise InvalidInputError(f"pairs manifest {manifest}: pair {index} has order "
                                    f"{order!r}, not ['a', 'b'] or ['b', 'a']")
        paths = {side: raw_dir / pair_file_name(index, side) for side in NOISE_SIDES}
        odd = [f"{p.name} is {kind}" for p in paths.values() if (kind := path_kind(p))]
        if odd:  # a FIFO or a directory by that name was once reported as "missing"
            skip(index, "; ".join(odd))
            continue
        missing = [p.name for p in paths.values() if not p.is_file()]
        if missing:
            skip(index, f"missing {', '.join(missing)}")
            continue
        kept.append((index, (order[0], order[1]),
                     {side: load_results(path, suite=suite) for side, path in paths.items()}))
    if not kept:
        raise InvalidInputError(f"raw pairs directory {raw_dir} has no complete ok pair "
                                f"({len(skipped)} skipped)")
    runs = [run for _, _, sides in kept for run in sides.values()]
    machines = {_machine(run) for run in runs}
    if len(machines) > 1:
        raise InvalidInputError(f"raw pairs directory {raw_dir} mixes machines: "
                                f"{sorted(dict(m).get('cpu_model', '?') for m in machines)}")
    named = {run.sha for run in runs} - {None}
    if len(named) > 1:
        raise InvalidInputError(f"raw pairs directory {raw_dir}: the files name several "
                                f"commits ({sorted(str(s) for s in named)})")
    if commit is not None and named and commit not in named:
        raise InvalidInputError(f"raw pairs directory {raw_dir}: the files name commit "
                                f"{min(named)[:12]}, not {commit[:12]}")
    if commit is None:
        if len(named) != 1 or any(run.sha is None for run in runs):
            raise InvalidInputError(f"raw pairs directory {raw_dir}: the files do not name "
                                    "one commit (some name none); name it: "
                                    "perf-pipeline calibrate REF --import-raw DIR")
        commit = named.pop()
    names = sorted(set.intersection(*({b.name for b in run.benchmarks} for run in runs)))
    if not names:
        raise InvalidInputError(f"raw pairs directory {raw_dir}: no benchmark ran in "
                                "every process")
    dropped = sorted({b.name for run in runs for b in run.benchmarks} - set(names))
    if dropped:
        logger.warning("raw pairs %s: %d benchmark(s) not in every process left out: %s",
                       raw_dir, len(dropped), dropped)
    pairs = []
    for index, order, sides in kept:
        for side in NOISE_SIDES:
            empty = [n for n in names
                     if not sides[side].benchmark(n).samples_s]  # type: ignore[union-attr]
            if empty:
                raise InvalidInputError(
                    f"{raw_dir / pair_file_name(index, side)}: benchmark {empty[0]!r} has "
                    "no raw samples (pytest-benchmark saves them with "
                    "--benchmark-save-data / --benchmark-json, as calibrate runs it)")
        first = sides[order[0]]
        pairs.append(NoisePair(
            order=order, started_at=_iso_utc(first.started_at),
            a=tuple(sides["a"].benchmark(n).samples_s for n in names),  # type: ignore[union-attr]
            b=tuple(sides["b"].benchmark(n).samples_s for n in names)))  # type: ignore[union-attr]
    # Pairs skipped, not skip messages: a torn manifest line and its unfinished pair's
    # files are one pair.
    n_skipped = len({i for i, _ in skipped if i is not None}) or len(skipped)
    counts = (f"{len(pairs)} pair(s) from raw pairs directory {raw_dir.name!r}; "
              f"{n_skipped} skipped (not ok or incomplete)")
    if dropped:
        counts += f"; {len(dropped)} benchmark(s) not in every process left out"
    return NoiseCorpus(
        suite=suite, commit=commit, recorded_at=min(p.started_at for p in pairs),
        machine=machines.pop(), note=f"{note.strip()} ({counts})" if note.strip() else counts,
        benchmarks=tuple(names), pairs=tuple(pairs))


# -- measuring --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CalibrationRun:
    """Where a finished calibration's raw files are, and how they were made."""

    raw_dir: Path
    sha: str
    pairs: int
    seed: int


def calibration_dir(settings: Settings, calibration_id: str, sha: str) -> Path:
    return settings.layout.calibration_dir(calibration_id, sha)


def _orders_bytes(lines: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def measure_calibration(
    settings: Settings,
    ref: str = "HEAD",
    *,
    pairs: int,
    seed: int | None = None,
    on_start: Callable[[Path, str], None] | None = None,
    on_pair: Callable[[int, int], None] | None = None,
) -> CalibrationRun:
    """Measure the benchmark suite at ``ref`` in ``pairs`` interleaved pairs.

    ``on_start(raw_dir, sha)`` is called before the first process, so a caller can say
    where the files go (an interrupted calibration keeps every finished pair there).
    A side that crashes, fails or times out stops the calibration with
    ``MeasurementError``; its pair is recorded as not ok and the raw files are kept.
    """
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 2:
        raise InvalidInputError(f"`pairs` must be a whole number >= 2, not {pairs!r}")
    repo = Path(settings.repo_path)
    sha = resolve_commit(repo, ref)
    seed = secrets.randbits(32) if seed is None else seed
    rng = random.Random(seed)
    sweep_stale_temp_dirs()  # folders of measuring runs that were SIGKILLed
    raw_dir = calibration_dir(settings, new_run_id(), sha)
    make_dirs(raw_dir, "calibration raw folder (under --results-dir)", exist_ok=False)
    if on_start is not None:
        on_start(raw_dir, sha)
    lines: list[dict[str, object]] = []
    roots = {side: settings.worktrees_dir / f"calibrate-{side}" for side in NOISE_SIDES}
    with measuring_lock(settings.measuring_lock_path), \
            git_worktree(repo, sha, root=roots["a"]) as tree_a, \
            git_worktree(repo, sha, root=roots["b"]) as tree_b, \
            measuring_temp_dir("calibrate") as tmp:
        trees = {"a": tree_a, "b": tree_b}
        projects = {side: tree / settings.project_subdir for side, tree in trees.items()}
        if not projects["a"].is_dir():
            raise InvalidInputError(no_project_dir(settings, sha))
        for index in range(pairs):
            order = NOISE_SIDES if rng.random() < 0.5 else NOISE_SIDES[::-1]
            error = None
            for side in order:
                json_path = Path(tmp) / pair_file_name(index, side)
                outcome = run_prepared(settings, trees[side], sha,
                                       paths=settings.benchmark_paths, json_path=json_path,
                                       extra_args=settings.pytest_args)
                error = error_text(outcome)
                if error is None:
                    kept = raw_dir / pair_file_name(index, side)
                    _keep(kept, json_path.read_bytes(), read_only=True)
                    try:
                        load_results(kept)
                    except InvalidInputError as exc:
                        error = f"invalid benchmark JSON: {exc}"
                if error is not None:
                    error = f"pair {index}, side {side} at {sha[:12]}: {error}"
                    break
            lines.append({"pair": index, "order": list(order), "ok": error is None,
                          "t": datetime.now(timezone.utc).timestamp()})
            _keep(raw_dir / ORDERS_FILE, _orders_bytes(lines))
            if error is not None:
                logger.warning("calibration %s stopped: %s", raw_dir, error.splitlines()[0])
                raise MeasurementError(f"calibration stopped at {error}\n(raw files of the "
                                       f"{index} finished pair(s) kept in {raw_dir})", sha=sha)
            if on_pair is not None:
                on_pair(index + 1, pairs)
    # Each side's worktrees have a folder of their own, which the pruning of runs never
    # looks into: a calibration of each new tip left two checkouts for ever.
    for root in roots.values():
        prune_worktrees(repo, root, keep=KEEP_CALIBRATION_WORKTREES)
    return CalibrationRun(raw_dir=raw_dir, sha=sha, pairs=pairs, seed=seed)
