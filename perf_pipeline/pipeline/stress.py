"""Judge a commit's stress run against the stress run before it, and write the section.

The baseline is the newest successful stress run of an *earlier* commit in history order
(on the main branch when the commit's run is on it): stress runs are nightly or
occasional, so one earlier run is what there is. That comparison is the **screen**
(``analysis/stress``); with ``confirm = "auto"`` every figure it flags is measured again
in fresh interleaved pairs of runs of both commits, and the **confirmation** decides
(``pipeline/stress_confirm``): one run against one run cannot tell a busy spell on a
shared machine from a change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from perf_pipeline.analysis.stress import compare_stress
from perf_pipeline.analysis.stress_confirm import Pair, apply_stress_confirmation
from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.measure.stress_results import MULTIPLIER_FIGURE
from perf_pipeline.model import (
    Environment,
    RunInfo,
    RunStatus,
    StressComparison,
    StressFigure,
    Verdict,
)
from perf_pipeline.pipeline.hardware_mix import hardware_change, hardware_of
from perf_pipeline.pipeline.stress_confirm import (
    StressConfirmationRecord,
    measure_stress_confirmation,
    read_stress_confirmation,
)
from perf_pipeline.report.stress import render_stress_html, render_stress_markdown
from perf_pipeline.workspace import Workspace

__all__ = ["StressJudgement", "StressOutcome", "analyze_stress_commit", "baseline_label",
           "confirm_stress_commit", "judge_stress"]

STRESS_MARKDOWN = "stress-report.md"
STRESS_HTML = "stress-report.html"


@dataclass(frozen=True, slots=True)
class StressOutcome:
    """The judged figures of one commit's stress run, and where the section was written."""

    sha: str
    run_id: str
    baseline_run_id: str | None
    baseline_sha: str | None
    comparisons: tuple[StressComparison, ...]
    markdown_path: Path
    html_path: Path
    markdown: str
    plots: tuple[Path, ...] = ()
    #: The judged run's error when it failed (tests that failed their own assertions;
    #: the figures of those that finished were judged).
    run_error: str | None = None
    #: Figures the screen flagged, and the fresh pairs that confirmed or cleared them.
    screen_flagged: int = 0
    confirmation_pairs: int = 0
    #: ``confirm = "auto"`` (the pairs decide) or not (the screen's flags are final).
    confirm_auto: bool = True

    @property
    def regressions(self) -> tuple[StressComparison, ...]:
        return tuple(c for c in self.comparisons if c.verdict is Verdict.REGRESSION)


def _sha(run: RunInfo) -> str | None:
    return run.commit.sha if run.commit else None


def _branch(run: RunInfo) -> str | None:
    return run.commit.branch if run.commit else None


@dataclass(frozen=True, slots=True)
class StressJudgement:
    """A commit's stress run, the run it was judged against, and the figures of both.

    ``multiplier``: the ``STRESS_MULTIPLIER`` the current run ran at (None: not recorded,
    a run from before it was); ``passed_over``: earlier runs not compared because they
    ran at another multiplier."""

    current: RunInfo
    base: RunInfo | None
    comparisons: tuple[StressComparison, ...]
    figures: tuple[StressFigure, ...]
    base_figures: tuple[StressFigure, ...]
    multiplier: float | None = None
    passed_over: int = 0
    base_multiplier: float | None = None
    #: Earlier runs of this machine id measured on other hardware (a replaced CPU), not
    #: compared; ``hardware_change`` names what changed (``pipeline/hardware_mix.py``).
    passed_over_hardware: int = 0
    hardware_change: str = ""
    #: The confirmation of the screen's flags, when there is one for these two runs
    #: (``comparisons`` then hold its final verdicts).
    confirmation: StressConfirmationRecord | None = None
    #: ``confirm = "auto"``: a flag without its confirmation is not a verdict yet.
    confirm_auto: bool = False

    @property
    def awaiting_confirmation(self) -> bool:
        """Flags the screen raised that ``stress_analysis`` has not confirmed yet (the
        commit's report can be written before it runs)."""
        return (self.confirm_auto and self.confirmation is None and self.base is not None
                and bool(self.regressions))

    @property
    def shown(self) -> tuple[StressComparison, ...]:
        """What reports show: the comparisons, with a flag still awaiting confirmation
        shown as inconclusive, never as a regression (on a shared machine most
        same-commit pairs of stress runs raise one)."""
        if not self.awaiting_confirmation:
            return self.comparisons
        return tuple(replace(c, verdict=Verdict.INCONCLUSIVE,
                             detail=f"flagged by the screen, not confirmed yet: {c.detail}")
                     if c.verdict is Verdict.REGRESSION else c for c in self.comparisons)

    @property
    def sha(self) -> str:
        return self.current.commit.sha if self.current.commit else ""

    @property
    def regressions(self) -> tuple[StressComparison, ...]:
        return tuple(c for c in self.comparisons if c.verdict is Verdict.REGRESSION)

    @property
    def shared_multiplier(self) -> float | None:
        """The multiplier both runs recorded (None when either recorded none)."""
        return self.multiplier if self.base_multiplier is not None else None

    @property
    def label(self) -> str | None:
        """How reports name the baseline (``baseline_label``)."""
        return baseline_label(self.base, self.shared_multiplier)

    @property
    def notes(self) -> str | None:
        """What a reader must know beside the table: the run failed; runs passed over."""
        notes = []
        if self.current.status is RunStatus.FAILED:
            first = (self.current.error or "no error message").strip().splitlines()[0]
            notes.append(f"This stress run failed ({first}): the figures of the tests that "
                         "finished are judged; the run's output has the failures.")
        if self.passed_over_hardware:
            notes.append(f"{self.passed_over_hardware} earlier stress run(s) of machine "
                         f"{self.current.machine_id} were measured on other hardware "
                         f"({self.hardware_change}) and were not compared: runs of "
                         "different hardware are never compared.")
        if self.passed_over and self.multiplier is not None:
            notes.append(f"{self.passed_over} earlier stress run(s) ran at another "
                         f"STRESS_MULTIPLIER than this one ({self.multiplier:g}) and were "
                         "not compared: durations, sizes and worker counts scale with it.")
        if self.confirmation is not None:
            notes.append(self.confirmation.note)
        elif self.awaiting_confirmation:
            notes.append(f"The screen flagged {len(self.regressions)} stress figure(s); "
                         "stress_analysis (or perf-pipeline stress) confirms or clears "
                         "them by fresh pairs of runs: until then they are inconclusive.")
        return " ".join(notes) or None


def _multiplier(figures: tuple[StressFigure, ...]) -> float | None:
    values = {f.value for f in figures if f.figure == MULTIPLIER_FIGURE}
    return values.pop() if len(values) == 1 else None


def judge_stress(ws: Workspace, sha: str) -> StressJudgement | None:
    """``sha``'s newest successful stress run (else its newest failed one that recorded
    figures) judged against the newest earlier successful one on the same machine, of the
    same hardware (a machine id kept across a CPU swap: ``pipeline/hardware_mix.py``) and
    at the same ``STRESS_MULTIPLIER``; None when the commit has neither.

    Durations, sizes and (above 1) the top worker count scale with the multiplier, so a
    run at another one is another experiment: a ramp that never broke reports its top
    step as its breaking point, and a docs-only commit at 0.3 after a run at 1.5 showed
    four "regressions". Runs that recorded no multiplier are compared as before.
    """
    store, settings = ws.store, ws.settings
    runs = store.list_runs(suite="stress")
    # This machine's run of the commit, when it has one: in a fleet's shared history the
    # newest run of any machine once decided, so a location's stress report showed
    # another machine's figures (benchmarks follow the same rule: this machine first).
    local = local_machine_id(settings)
    here = [r for r in runs if r.machine_id == local]
    if any(_sha(r) == sha for r in here):
        runs = here
    # The commit's newest successful run; else its newest failed one that recorded
    # figures (a stress test asserting "no leak" fails on the leak it measured). A
    # later partial run (timed out, interrupted) never hides a complete one.
    mine = [i for i, r in enumerate(runs) if _sha(r) == sha and r.status is RunStatus.SUCCESS]
    if not mine:
        mine = [i for i, r in enumerate(runs) if _sha(r) == sha
                and r.status is RunStatus.FAILED and store.stress_figures(r.run_id)]
    if not mine:
        return None
    position = mine[-1]
    current = runs[position]
    figures = store.stress_figures(current.run_id)
    multiplier = _multiplier(figures)
    on_main = _branch(current) == settings.main_branch
    earlier = [r for r in runs[:position] if _sha(r) != sha
               and r.status is RunStatus.SUCCESS  # a baseline ran every test through
               and r.machine_id == current.machine_id  # machines are never compared
               and (not on_main or _branch(r) == settings.main_branch)]
    base, base_figures, base_multiplier, passed_over = None, (), None, 0
    here = store.get_run(current.run_id).environment
    other_hardware: list[Environment] = []
    for candidate in reversed(earlier):
        theirs = store.get_run(candidate.run_id).environment if hardware_of(here) else None
        if theirs is not None and hardware_of(theirs) not in (None, hardware_of(here)):
            other_hardware.append(theirs)  # never compared: timings of other hardware
            continue
        candidate_figures = store.stress_figures(candidate.run_id)
        other = _multiplier(candidate_figures)
        if multiplier is not None and other is not None and other != multiplier:
            passed_over += 1
            continue
        base, base_figures, base_multiplier = candidate, candidate_figures, other
        break
    comparisons = compare_stress(base_figures, figures, alpha=settings.alpha)
    # confirm=off: the comparison alone decides, even where an earlier confirm=auto run
    # left a confirmation of these two runs (README: "--confirm off, the screen's").
    confirmation = read_stress_confirmation(
        ws, sha, run_id=current.run_id, baseline_run_id=base.run_id if base else None
    ) if settings.confirm == "auto" else None
    if confirmation is not None:
        comparisons = apply_stress_confirmation(comparisons, confirmation.confirmation)
    return StressJudgement(current=current, base=base, comparisons=comparisons,
                           figures=figures, base_figures=base_figures,
                           multiplier=multiplier, passed_over=passed_over,
                           passed_over_hardware=len(other_hardware),
                           hardware_change=(hardware_change(other_hardware[0], here)
                                            if other_hardware and here else ""),
                           base_multiplier=base_multiplier, confirmation=confirmation,
                           confirm_auto=settings.confirm == "auto")


def baseline_label(base: RunInfo | None, multiplier: float | None = None) -> str | None:
    """How reports name the stress baseline: its short SHA and run id (and the
    multiplier both runs ran at, when recorded)."""
    base_sha = _sha(base) if base else None
    at = f", STRESS_MULTIPLIER {multiplier:g}" if multiplier is not None else ""
    return f"{base_sha[:12]} (run {base.run_id}{at})" if base and base_sha else None


def confirm_stress_commit(ws: Workspace, judged: StressJudgement, *,
                          pairs: Iterable[Pair] | None = None) -> StressJudgement:
    """With ``confirm = "auto"``: measure the screen's flags again (unless these two runs
    were confirmed already: re-running a partition does not measure twice) and return
    the judgement with the confirmed verdicts."""
    if (ws.settings.confirm != "auto" or judged.base is None
            or judged.confirmation is not None or not judged.regressions):
        return judged
    base_sha = _sha(judged.base)
    if base_sha is None:
        return judged
    measure_stress_confirmation(ws, judged.sha, run_id=judged.current.run_id,
                                baseline_run_id=judged.base.run_id, baseline_sha=base_sha,
                                screen=judged.comparisons,
                                multiplier=judged.shared_multiplier,
                                machine_id=judged.current.machine_id, pairs=pairs)
    return judge_stress(ws, judged.sha) or judged


def analyze_stress_commit(ws: Workspace, sha: str, *,
                          pairs: Iterable[Pair] | None = None) -> StressOutcome:
    """Compare ``sha``'s stress figures with the previous commit's, confirm what that
    flagged (``confirm_stress_commit``); write md + html."""
    judged = judge_stress(ws, sha)
    if judged is None:
        runs = ws.store.list_runs(suite="stress", sha=sha)
        if runs and runs[-1].status is RunStatus.NO_SUITE:  # from before the stress tests
            raise InvalidInputError(f"commit {sha}: nothing to judge: "
                                    f"{runs[-1].error or 'its stress run found none'}")
        raise InvalidInputError(f"commit {sha}: no stress run with figures in the history")
    judged = confirm_stress_commit(ws, judged, pairs=pairs)
    current, base, comparisons = judged.current, judged.base, judged.comparisons
    label = judged.label
    note = judged.notes
    out_dir = ws.layout.commit_report_dir(sha)
    from perf_pipeline.report.stress_plots import render_stress_pngs  # matplotlib: lazy

    pngs = render_stress_pngs(judged.base_figures, judged.figures,
                              baseline_label=label or "no baseline", current_label=sha[:12])
    markdown = render_stress_markdown(comparisons, baseline_label=label, images=tuple(pngs),
                                      note=note, shown=judged.figures)
    md_path, html_path = ws.layout.stress_report_paths(sha)
    html = render_stress_html(comparisons, baseline_label=label, images=tuple(pngs),
                              note=note, shown=judged.figures).encode()
    try:  # a full disk or a read-only folder: an error naming it, not "a bug" (exit 3)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in pngs.items():
            write_atomic(out_dir / name, data)
        write_atomic(md_path, markdown.encode("utf-8"))
        write_atomic(html_path, html)
    except OSError as exc:
        raise StoreError(f"stress report in {out_dir}: cannot write it: "
                         f"{exc.strerror or exc}") from exc
    return StressOutcome(sha=sha, run_id=current.run_id,
                         baseline_run_id=base.run_id if base else None,
                         baseline_sha=_sha(base) if base else None, comparisons=comparisons,
                         markdown_path=md_path, html_path=html_path, markdown=markdown,
                         plots=tuple(out_dir / name for name in pngs),
                         run_error=((current.error or "failed") if current.status
                                    is RunStatus.FAILED else None),
                         screen_flagged=(len(judged.confirmation.confirmation.tallies)
                                         if judged.confirmation else len(judged.regressions)),
                         confirmation_pairs=(judged.confirmation.confirmation.pairs_used
                                             if judged.confirmation else 0),
                         confirm_auto=judged.confirm_auto)
