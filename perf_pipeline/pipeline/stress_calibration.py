"""``perf-pipeline calibrate --suite stress``: this machine's stress noise, and what the
stress gate makes of it.

The stress gate's README figures come from this project's example on our machine. A
team's own stress suite on its own machine can be far noisier or far calmer, so this
records it: interleaved pairs of stress runs of ONE commit (``measure/stress_pairs``,
both sides the same commit), every run's figures appended to a corpus file as it comes
(``store/stress_corpus``), then the recording replayed through the product's own screen
and confirmation (``analysis.stress_replay``): how often an unchanged commit is flagged
and confirmed here, and how often each kind of real change is confirmed.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from perf_pipeline.analysis.stress_confirm import Pair
from perf_pipeline.analysis.stress_replay import (
    INJECTIONS,
    StressGateRates,
    replay_stress_gate,
    screen_pair_rates,
)
from perf_pipeline.atomic_file import make_dirs
from perf_pipeline.errors import InvalidInputError, MeasurementError, StoreError
from perf_pipeline.measure import resolve_commit
from perf_pipeline.measure.raw import new_run_id
from perf_pipeline.measure.stress_pairs import StressPairs
from perf_pipeline.store.stress_corpus import load_stress_corpus, stress_corpus_line
from perf_pipeline.workspace import Workspace

__all__ = ["StressCalibration", "calibrate_stress"]


@dataclass(frozen=True, slots=True)
class StressCalibration:
    """What a stress calibration recorded, where, and the gate's replayed rates."""

    sha: str
    runs: int
    corpus_path: Path
    raw_dir: Path | None
    seed: int
    screen_pairs: float  # share of same-commit run pairs the screen flags
    screen_by_figure: dict[tuple[str, str], float]
    null: StressGateRates | None  # None: too few runs to replay the confirmation
    power: tuple[tuple[str, float, float], ...]  # (figure, factor, confirmed share)
    runs_needed: int
    stopped: str | None = None


def _corpus_path(ws: Workspace, sha: str) -> Path:
    """``<results>/noise/<commit12>-<time>.stress.jsonl.gz``, ``-2``, ``-3``, ... when
    taken (two recordings in one second)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        name = f"{sha[:12]}-{stamp}{'' if n == 1 else f'-{n}'}.stress.jsonl.gz"
        if not (ws.layout.noise_dir / name).exists():
            return ws.layout.noise_dir / name
    raise InvalidInputError(f"no free stress corpus name in {ws.layout.noise_dir}")


def calibrate_stress(ws: Workspace, ref: str = "HEAD", *, pairs: int, seed: int | None = None,
                     out: Path | None = None, trials: int = 400,
                     on_pair: Callable[[int, int], None] | None = None,
                     source: Iterable[Pair] | None = None) -> StressCalibration:
    """Record ``pairs`` interleaved same-commit pairs of the stress suite at ``ref`` and
    replay them. ``source`` replaces measuring (tests). A side that fails ends the
    recording; the runs before it are kept and replayed."""
    settings = ws.settings
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
        raise InvalidInputError(f"`pairs` must be a whole number >= 1, not {pairs!r}")
    sha = resolve_commit(settings.repo_path, ref)
    seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed
    raw_dir: Path | None = None
    if source is None:
        raw_dir = settings.layout.calibration_dir(f"{new_run_id()}-stress", sha)
        source = StressPairs(settings, sha, sha, settings.stress_paths, seed=seed,
                             raw_dir=raw_dir)
    path = out or _corpus_path(ws, sha)
    make_dirs(path.parent, "stress corpus folder")
    stopped = None
    done = 0
    try:
        with gzip.open(path, "xt", encoding="utf-8") as sink:
            feed = iter(source)
            for index in range(pairs):
                try:
                    first, second = next(feed)
                except StopIteration:
                    break
                except MeasurementError as exc:
                    stopped = str(exc).splitlines()[0]
                    break
                for side, figures in (("a", first), ("b", second)):
                    sink.write(stress_corpus_line(figures, sha=sha, run=2 * index + (
                        side == "b"), error=None, duration_s=0.0))
                sink.flush()
                done += 1
                if on_pair is not None:
                    on_pair(done, pairs)
    except FileExistsError as exc:
        raise InvalidInputError(f"stress corpus {path} exists already: name another "
                                "with --out") from exc
    except OSError as exc:
        raise StoreError(f"stress corpus {path}: cannot write it: "
                         f"{exc.strerror or exc}") from exc
    runs = load_stress_corpus(path)
    if not runs:
        path.unlink(missing_ok=True)  # an empty corpus is no recording
    if len(runs) < 2:
        raise MeasurementError(f"stress calibration of {sha[:12]} recorded {len(runs)} "
                               f"run(s): {stopped or 'nothing to replay'}")
    share, by_figure = screen_pair_rates(runs, alpha=settings.alpha)
    needed = 2 * (1 + settings.stress_confirm_pairs)
    null, power = None, ()
    if len(runs) >= needed:
        rng = np.random.default_rng(seed)
        common = {"max_pairs": settings.stress_confirm_pairs, "alpha": settings.alpha}
        null = replay_stress_gate(runs, rng, trials=trials, **common)
        power = tuple(
            (figure, factor, replay_stress_gate(
                runs, rng, trials=max(trials // 4, 1), inject=(figure, factor),
                **common).injected_confirmed or 0.0)
            for figure, factor in INJECTIONS
            if any(f.figure == figure for f in runs[0]))
    return StressCalibration(sha=sha, runs=len(runs), corpus_path=path, raw_dir=raw_dir,
                             seed=seed, screen_pairs=share, screen_by_figure=by_figure,
                             null=null, power=power, runs_needed=needed, stopped=stopped)
