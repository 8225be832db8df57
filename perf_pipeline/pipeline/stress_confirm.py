"""The stress gate's second stage: measure flagged stress figures again, keep the answer.

``measure_stress_confirmation`` runs fresh interleaved pairs of the flagged tests at the
stress baseline's commit and the candidate (``measure/stress_pairs.py``) through
``analysis.stress_confirm`` and writes the result to
``<results>/confirmation/<sha>.stress.json`` (``store/stress_confirmation_file.py``).
``read_stress_confirmation`` gives it back to every reader of the commit's stress
verdicts (``pipeline/stress.judge_stress``), so the stress report, the commit's
performance report and the alerts all show the confirmed verdicts, for exactly the pair
of runs that was confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from perf_pipeline.analysis.stress_confirm import (
    MAX_PAIRS,
    Pair,
    confirm_stress,
    flagged_stress,
    reachable_alpha,
)
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.measure.stress_pairs import StressPairs
from perf_pipeline.model import StressComparison, StressConfirmationRecord
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.store import read_stress_confirmation_file, write_stress_confirmation_file
from perf_pipeline.workspace import Workspace

__all__ = ["StressConfirmationRecord", "measure_stress_confirmation",
           "read_stress_confirmation"]


def read_stress_confirmation(ws: Workspace, sha: str, *, run_id: str,
                             baseline_run_id: str | None) -> StressConfirmationRecord | None:
    """The commit's stress confirmation, if it confirmed exactly these two runs."""
    record = read_stress_confirmation_file(ws.layout.stress_confirmation_path(sha))
    if record is None:
        return None
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
                                machine_id: str | None = None,
                                pairs: Iterable[Pair] | None = None
                                ) -> StressConfirmationRecord | None:
    """Confirm the figures ``screen`` flagged (None when it flagged none) and write the
    commit's stress confirmation file; the pairs run at ``multiplier`` (the screened
    runs', when they recorded one). ``pairs`` replaces measuring (tests, replays).

    ``machine_id``: the machine that measured the screened runs. Pairs measured on
    another machine would clear (or confirm) that machine's flags with this one's
    figures, so none are measured and the flags stay undecided, as for benchmarks
    (``pipeline.confirm``)."""
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
    here = local_machine_id(settings) if machine_id is not None else None
    if machine_id is not None and machine_id != here:
        notes.append(f"the stress runs were measured on machine {machine_id}, this is "
                     f"machine {here}: fresh pairs here would judge another machine's "
                     "flags by this one's figures, so the flags stay undecided (run "
                     f"perf-pipeline stress on {machine_id} to confirm them).")
    elif needed is None:
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
    write_stress_confirmation_file(ws.layout.stress_confirmation_path(sha), record)
    return record
