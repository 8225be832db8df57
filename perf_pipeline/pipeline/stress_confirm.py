"""The stress gate's second stage: measure flagged stress figures again, keep the answer.

``measure_stress_confirmation`` runs fresh interleaved pairs of the flagged tests at the
stress baseline's commit and the candidate (``measure/stress_pairs.py``) through
``analysis.stress_confirm`` and writes the result to
``<results>/confirmation/<sha>.stress.json``. ``read_stress_confirmation`` gives it back
to every reader of the commit's stress verdicts (``pipeline/stress.judge_stress``), so
the stress report, the commit's performance report and the alerts all show the
confirmed verdicts, for exactly the pair of runs that was confirmed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.analysis.stress_confirm import (
    MAX_PAIRS,
    FigureTally,
    Pair,
    StressConfirmation,
    confirm_stress,
    flagged_stress,
    reachable_alpha,
)
from perf_pipeline.atomic_file import make_dirs, write_atomic
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.measure.stress_pairs import StressPairs
from perf_pipeline.model import StressComparison, Verdict
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.store.strict_json import MALFORMED, load_json
from perf_pipeline.workspace import Workspace

__all__ = ["StressConfirmationRecord", "measure_stress_confirmation",
           "read_stress_confirmation"]

_VERSION = 1


@dataclass(frozen=True, slots=True)
class StressConfirmationRecord:
    """A commit's stress confirmation: which two runs it was about, and its tallies."""

    sha: str
    run_id: str  # the candidate's stress run the screen judged
    baseline_run_id: str
    baseline_sha: str
    confirmation: StressConfirmation
    created_at: str
    raw_dir: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One sentence for the reports: what was measured again, and what came of it."""
        c = self.confirmation
        done = (f"The screen's {len(c.tallies)} flagged figure(s) were measured again in "
                f"{c.pairs_used} fresh interleaved pair(s) of runs (at most {c.pairs}) of "
                f"{self.baseline_sha[:12]} and this commit: {len(c.confirmed)} confirmed.")
        return " ".join((done, *self.notes))


def _tally_to_dict(t: FigureTally) -> dict[str, object]:
    test, scenario, figure = t.key
    return {"test": test, "scenario": scenario, "figure": figure, "changes": list(t.changes),
            "margin": t.margin, "p_value": t.p_value, "worse_by_margin": t.worse_by_margin,
            "verdict": t.verdict.value}


def _to_json(r: StressConfirmationRecord) -> bytes:
    c = r.confirmation
    data = {"schema_version": _VERSION, "sha": r.sha, "run_id": r.run_id,
            "baseline_run_id": r.baseline_run_id, "baseline_sha": r.baseline_sha,
            "created_at": r.created_at, "raw_dir": r.raw_dir, "notes": list(r.notes),
            "pairs": c.pairs, "pairs_used": c.pairs_used, "alpha": c.alpha, "level": c.level,
            "figures": [_tally_to_dict(t) for t in c.tallies]}
    return json.dumps(data, indent=1, allow_nan=False).encode("utf-8")


def _from_json(raw: bytes, path: Path) -> StressConfirmationRecord:
    try:
        d = load_json(raw, f"stress confirmation file {path}")
        if d.get("schema_version") != _VERSION:
            raise InvalidInputError(f"schema_version {d.get('schema_version')!r} is not "
                                    "supported")
        tallies = tuple(FigureTally(
            key=(str(f["test"]), str(f["scenario"]), str(f["figure"])),
            changes=tuple(float(x) for x in f["changes"]),
            margin=None if f["margin"] is None else float(f["margin"]),
            p_value=None if f["p_value"] is None else float(f["p_value"]),
            worse_by_margin=int(f["worse_by_margin"]), verdict=Verdict(f["verdict"]))
            for f in d["figures"])
        confirmation = StressConfirmation(tallies=tallies, pairs_used=int(d["pairs_used"]),
                                          pairs=int(d["pairs"]), alpha=float(d["alpha"]),
                                          level=float(d["level"]))
        return StressConfirmationRecord(
            sha=str(d["sha"]), run_id=str(d["run_id"]),
            baseline_run_id=str(d["baseline_run_id"]), baseline_sha=str(d["baseline_sha"]),
            confirmation=confirmation, created_at=str(d["created_at"]),
            raw_dir=None if d["raw_dir"] is None else str(d["raw_dir"]),
            notes=tuple(str(n) for n in d["notes"]))
    except (InvalidInputError, *MALFORMED) as exc:
        raise InvalidInputError(f"{path}: not a valid stress confirmation file ({exc})"
                                ) from exc


def read_stress_confirmation(ws: Workspace, sha: str, *, run_id: str,
                             baseline_run_id: str | None) -> StressConfirmationRecord | None:
    """The commit's stress confirmation, if it confirmed exactly these two runs."""
    path = ws.layout.stress_confirmation_path(sha)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInputError(f"{path}: unreadable ({exc})") from exc
    record = _from_json(raw, path)
    if record.run_id != run_id or record.baseline_run_id != baseline_run_id:
        return None  # about an earlier run of the commit, or another baseline
    return record


class _Budgeted(Iterator[Pair]):
    """Pairs until the time budget is spent or the measuring fails (noted, not raised:
    the figures still undecided are then inconclusive, the decided ones stand)."""

    def __init__(self, pairs: Iterable[Pair], budget_s: float) -> None:
        self._source, self._deadline = iter(pairs), time.monotonic() + budget_s
        self.stopped: str | None = None

    def __next__(self) -> Pair:
        if self.stopped is not None:
            raise StopIteration
        if time.monotonic() > self._deadline:
            self.stopped = "the time budget (confirm_budget_s) ran out"
            raise StopIteration
        try:
            return next(self._source)
        except MeasurementError as exc:
            self.stopped = f"measuring stopped: {str(exc).splitlines()[0]}"
            raise StopIteration from None


def measure_stress_confirmation(ws: Workspace, sha: str, *, run_id: str,
                                baseline_run_id: str, baseline_sha: str,
                                screen: Sequence[StressComparison],
                                multiplier: float | None = None,
                                pairs: Iterable[Pair] | None = None
                                ) -> StressConfirmationRecord | None:
    """Confirm the figures ``screen`` flagged (None when it flagged none) and write the
    commit's stress confirmation file; the pairs run at ``multiplier`` (the screened
    runs', when they recorded one). ``pairs`` replaces measuring (tests, replays)."""
    settings = ws.settings
    flagged = flagged_stress(screen)
    if not flagged:
        return None
    n, alpha = settings.stress_confirm_pairs, settings.alpha
    notes: list[str] = []
    # Each flag is tested at alpha over the number of flags (Bonferroni): 10 pairs reach
    # 0.01 shared by at most 10. A broad regression flags more, and at the configured
    # pairs none could be confirmed: the gate passed the biggest changes unmeasured. So
    # the pairs grow to what the level needs (at most MAX_PAIRS).
    level = alpha / len(set(flagged))
    needed = next((k for k in range(n, MAX_PAIRS + 1) if reachable_alpha(k) <= level), None)
    if needed is not None and needed > n:
        notes.append(f"{len(set(flagged))} flagged figures share alpha {alpha:g}: "
                     f"{needed} pairs (not stress_confirm_pairs {n}) can reach each "
                     "one's level.")
        n = needed
    raw_dir: str | None = None
    source: Iterable[Pair] = ()
    if needed is None:
        notes.append(f"{len(set(flagged))} flagged figure(s) share alpha {alpha:g}: no "
                     f"figure's level ({level:.2g}) can be reached in at most {MAX_PAIRS} "
                     f"pairs (the smallest p-value is 1/2**pairs): the flags stay "
                     "undecided.")
    elif pairs is not None:
        source = pairs
    else:
        try:
            base = resolve_commit(settings.repo_path, baseline_sha)
        except InvalidInputError as exc:
            notes.append(f"the baseline's commit cannot be measured again ({exc}).")
        else:
            tests = tuple(dict.fromkeys(key[0] for key in flagged))
            try:  # test ids come from the stored figures: pytest node ids, validated
                measured = StressPairs(settings, base, sha, tests, multiplier=multiplier)
            except InvalidInputError as exc:
                notes.append(f"the flagged tests cannot be run again ({exc}).")
            else:
                raw_dir, source = str(measured.raw_dir), measured
    budgeted = _Budgeted(source, settings.confirm_budget_s)
    confirmation = confirm_stress(flagged, budgeted, max_pairs=n, alpha=alpha,
                                  screen=screen)
    if budgeted.stopped is not None:
        notes.append(f"Pairs ended early: {budgeted.stopped}.")
    if confirmation.pairs_used == 0:
        raw_dir = None
    record = StressConfirmationRecord(
        sha=sha, run_id=run_id, baseline_run_id=baseline_run_id, baseline_sha=baseline_sha,
        confirmation=confirmation, created_at=now_iso(), raw_dir=raw_dir,
        notes=tuple(notes))
    path = ws.layout.stress_confirmation_path(sha)
    make_dirs(path.parent, "confirmation folder (under --results-dir)")
    write_atomic(path, _to_json(record))
    return record
