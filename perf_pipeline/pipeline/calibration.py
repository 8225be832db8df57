"""``perf-pipeline calibrate``: record this machine's real noise, keep it, profile it.

The gate's statistics are only as good as what they assume about noise. This step
measures one commit in many interleaved same-commit pairs (``measure.calibrate``), or
imports a raw pairs directory recorded earlier, and turns it into the two durable
results every later rule is validated against: a noise corpus file (replayable, small
enough to commit) and a noise profile in the history db (the spreads, per benchmark).
``detectability_of`` answers what a team asks of a recording next: which of its
benchmarks an A/B on this machine can find a +5 % change in, and how large a change must
be for the rest (replayed from the recording, ``analysis.detectable_changes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from perf_pipeline.analysis import (
    Detectability,
    NoiseRecording,
    SpreadChange,
    detectable_changes,
    noise_profile,
    spread_change,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import (
    corpus_from_raw_pairs,
    local_machine_id,
    measure_calibration,
    resolve_commit,
)
from perf_pipeline.model import NoiseCorpus, NoiseProfile
from perf_pipeline.pipeline.ab_prior import (
    MACHINE_ID_KEY,
    previous_profile_here,
    profiles_here,
)
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.store import load_noise_corpus, write_noise_corpus
from perf_pipeline.workspace import Workspace

# Detectability: what ``detectability_of`` returns, for the CLI to print.
__all__ = ["CalibrationOutcome", "Detectability", "calibrate", "default_corpus_path",
           "detectability_of", "newest_corpus"]


@dataclass(frozen=True, slots=True)
class CalibrationOutcome:
    """What a calibration recorded and where, for the CLI to print."""

    corpus: NoiseCorpus
    profile: NoiseProfile
    profile_id: str
    corpus_path: Path
    raw_dir: Path
    skipped: tuple[tuple[int | None, str], ...]
    seed: int | None = None
    #: This machine's newest recording before this one, and how this one's spread
    #: compares with it (None: no earlier recording, or nothing to compare).
    previous: NoiseProfile | None = None
    change: SpreadChange | None = None


def default_corpus_path(ws: Workspace, corpus: NoiseCorpus) -> Path:
    """``<results>/noise/<commit12>-<recorded_at>.json.gz``, or with ``-2``, ``-3``, …
    when that file exists: a recording imported again (say, with a pair marked bad) once
    replaced the first corpus, which its stored profile still pointed at."""
    try:
        stamp = f"{datetime.fromisoformat(corpus.recorded_at):%Y%m%dT%H%M%SZ}"
    except ValueError:
        stamp = "".join(c for c in corpus.recorded_at if c.isalnum())[:20] or "unknown"
    path = ws.layout.noise_corpus_path(corpus.commit, stamp)
    k = 1
    while path.exists():
        k += 1
        path = ws.layout.noise_corpus_path(corpus.commit, f"{stamp}-{k}")
    return path


def calibrate(
    ws: Workspace,
    ref: str | None = None,
    *,
    pairs: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    import_raw: Path | None = None,
    note: str = "",
    on_start: Callable[[Path, str], None] | None = None,
    on_pair: Callable[[int, int], None] | None = None,
) -> CalibrationOutcome:
    """Measure ``pairs`` same-commit pairs at ``ref`` (or import ``import_raw``), then
    write the corpus to ``out`` and store its noise profile in the history db.

    A failing side stops the measurement with ``MeasurementError`` and keeps the raw
    files; ``on_start`` learns where they are before the first process runs, so an
    interrupted calibration can be finished with ``import_raw``.
    """
    skipped: list[tuple[int | None, str]] = []
    if out is not None and Path(out).exists():
        # A corpus is evidence (README tables are replayed from committed ones): never
        # replaced by a new recording behind the user's back.
        raise InvalidInputError(f"--out {out} exists; a corpus is never overwritten: "
                                "choose another path, or move the old one away first")
    if import_raw is not None:
        if pairs is not None:
            raise InvalidInputError("--import-raw builds the corpus from recorded pairs: "
                                    "do not also give --pairs")
        raw_dir = Path(import_raw)
        # REF names the commit when the raw files do not (recorded elsewhere, or by a
        # pytest-benchmark that saved no commit info).
        commit = resolve_commit(ws.settings.repo_path, ref) if ref is not None else None
        corpus = corpus_from_raw_pairs(raw_dir, note=note, commit=commit,
                                       on_skip=lambda i, why: skipped.append((i, why)))
    else:
        if pairs is None:
            raise InvalidInputError("--pairs is required to measure (or use --import-raw)")
        run = measure_calibration(ws.settings, ref or "HEAD", pairs=pairs, seed=seed,
                                  on_start=on_start, on_pair=on_pair)
        raw_dir = run.raw_dir
        corpus = corpus_from_raw_pairs(
            raw_dir, commit=run.sha, on_skip=lambda i, why: skipped.append((i, why)),
            note=note or f"perf-pipeline calibrate, {pairs} pairs, seed {run.seed}")
        # Measured here: the recording names this machine, not only its hardware (a
        # fleet's boxes of one instance type share a history and a hardware id).
        corpus = replace(corpus, machine=(*corpus.machine,
                                          (MACHINE_ID_KEY, local_machine_id(ws.settings))))
        seed = run.seed
    profile = noise_profile(corpus)
    previous = previous_profile_here(ws, profile)
    corpus_path = write_noise_corpus(corpus, out or default_corpus_path(ws, corpus))
    profile_id = ws.store.record_noise_profile(profile, corpus_path=str(corpus_path.resolve()),
                                               created_at=now_iso())
    return CalibrationOutcome(corpus=corpus, profile=profile, profile_id=profile_id,
                              corpus_path=corpus_path, raw_dir=raw_dir,
                              skipped=tuple(skipped), seed=seed, previous=previous,
                              change=spread_change(profile, previous) if previous else None)


def detectability_of(corpus: NoiseCorpus, *, processes: int,
                     on_benchmark: Callable[[int, int], None] | None = None
                     ) -> Detectability:
    """The smallest slowdown ``perf-pipeline ab --adaptive`` (``processes`` per side, its
    default 20 rounds) finds per benchmark on ``corpus``'s noise. Raises
    ``InvalidInputError`` when the corpus is too short to replay A/Bs from."""
    return detectable_changes(NoiseRecording.from_corpus(corpus), processes=processes,
                              on_benchmark=on_benchmark)


def _machine_text(profile: NoiseProfile) -> str:
    machine = dict(profile.machine)
    return (f"{machine.get('cpu_model', '?')} x{machine.get('cpu_count', '?')}, "
            f"{machine.get('os', '?')}")


def newest_corpus(ws: Workspace) -> tuple[NoiseProfile, Path, NoiseCorpus]:
    """This machine's newest recorded noise profile (the one its A/Bs borrow from when
    usable), its corpus path and the corpus.

    What an A/B finds depends on the machine's noise: a history shared with other
    machines (CI runners, a PostgreSQL history) once gave the newest profile of *any*
    machine, another box's noise reported as this one's. ``InvalidInputError`` when this
    machine has none (naming the other machines' newest, for ``--corpus``) or its file
    is gone or broken (the error names the path)."""
    profiles = ws.store.noise_profiles() if ws.history_exists else ()
    if not profiles:
        raise InvalidInputError(f"no noise profile in {ws.settings.history_label}: record "
                                "one with perf-pipeline calibrate --pairs 60, or give "
                                "--corpus PATH")
    mine = profiles_here(ws)
    if not mine:
        other, other_path, _ = profiles[-1]
        raise InvalidInputError(
            f"no noise profile of this machine in {ws.settings.history_label}: its "
            f"{len(profiles)} profile(s) are of other machines (the newest stored: "
            f"{other.commit[:12]} recorded {other.recorded_at} on {_machine_text(other)}, "
            f"corpus {other_path}). Record this machine's with perf-pipeline calibrate "
            "--pairs 60, or replay another's with --corpus PATH")
    profile, corpus_path = mine[0]
    return profile, Path(corpus_path), load_noise_corpus(Path(corpus_path))
