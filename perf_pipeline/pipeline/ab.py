"""``perf-pipeline ab BASE CANDIDATE``: an interleaved A/B run, judged pairwise, reported.

The stored-baseline comparison must allow for the run-to-run noise of a shared machine,
which costs power. When a commit is suspect (the gate or a change point flagged it), or a
PR has no history to lean on, measuring it against its parent in alternating rounds
removes that noise instead: this step runs the rounds, compares each benchmark's
per-round values (``analysis.round_value``, the fastest sample of a side, as in the
adaptive design and the confirmation) pairwise with each round's suite-wide factor removed
(``analysis.compare_rounds``), corrects across the suite, and writes the usual Markdown
and HTML report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from perf_pipeline.analysis import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_MIN_ROUNDS,
    MAX_ROUNDS,
    MIN_BENCHMARKS_FOR_SHIFT,
    MIN_CONTROLS_FOR_FACTOR,
    SUITE_SHIFT_NAME,
    LeftOut,
    SequentialResult,
    build_baseline,
    compare_rounds,
    require_a_target,
    round_value,
    sequential_ab,
    usable_rounds,
)
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.ab import ABRun, iter_ab_rounds, measure_ab
from perf_pipeline.measure.ab_selection import ABSelection
from perf_pipeline.measure.results import merge_processes
from perf_pipeline.model import ReportData, SuiteComparison, SuiteRun
from perf_pipeline.pipeline.ab_prior import PriorChoice, ab_variance_prior
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.pipeline.confirm import CountedRounds, round_values
from perf_pipeline.pipeline.report_location import with_report_location
from perf_pipeline.report import ReportFiles, write_report
from perf_pipeline.workspace import Workspace

__all__ = ["ABOutcome", "check_max_rounds", "min_rounds", "paired_round_values", "run_ab",
           "run_adaptive_ab"]


@dataclass(frozen=True, slots=True)
class ABOutcome:
    """What an A/B run found, for the CLI to print and map to an exit code."""

    ab: ABRun
    comparison: SuiteComparison
    files: ReportFiles
    too_few_rounds: str | None = None  # why nothing could be significant, if so
    #: Measured on both sides but not in every round (fixed design): left out, not paired.
    partial: tuple[str, ...] = ()
    no_factor: str | None = None  # why each round kept its processes' whole noise, if so
    sequential: SequentialResult | None = None  # the adaptive design's stopping record
    #: The adaptive design's variance prior (``pipeline.ab_prior``): which, or why none.
    prior: PriorChoice | None = None
    #: Left out of the A/B, neither judged nor controls: a round of 0.0 s has no ratio
    #: (``analysis.ab_left_out``). Their notes are in the report.
    left_out: tuple[LeftOut, ...] = ()

    @property
    def regressed(self) -> bool:
        return self.comparison.has_regression


def paired_round_values(ab: ABRun) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per benchmark, one ``round_value`` per round and side (the fastest sample of the
    side's processes), aligned by round.

    The process is the unit of replication, so a round contributes one number per side;
    the fixed-round design takes the same number as the adaptive one. On the replayed real
    pairs (9 benchmarks, 10 rounds of two processes) the per-round median instead found
    +10 % in 51 % of trials against 72 %, with A/A alarms of 0.7 % against 0 %. A benchmark
    missing from any round of a side is left out of that side, so it shows up as new or
    missing rather than as a pair with holes.
    """

    def side(runs: list[SuiteRun]) -> dict[str, list[float]]:
        return {name: [round_value(r.benchmark(name).samples_s)  # type: ignore[union-attr]
                       for r in runs] for name in sorted(_in_every_round(runs))}

    return (side([r.base for r in ab.rounds]), side([r.candidate for r in ab.rounds]))


def _in_every_round(runs: list[SuiteRun]) -> set[str]:
    return set.intersection(*({b.name for b in r.benchmarks if b.samples_s} for r in runs))


def _partial(ab: ABRun, comparison: SuiteComparison,
             left_out: Collection[LeftOut] = ()) -> tuple[str, ...]:
    """Benchmarks some round measured that neither the pairs nor new/missing (nor
    ``left_out``) account for: measured on both sides, but not in every round (a flaky
    skip)."""
    seen = {b.name for r in ab.rounds for run in (r.base, r.candidate) for b in run.benchmarks
            if b.samples_s}
    accounted = ({r.name for r in comparison.results} | set(comparison.new)
                 | set(comparison.missing) | {lo.name for lo in left_out})
    return tuple(sorted(seen - accounted))


def min_rounds(benchmarks: int, alpha: float) -> int:
    """Fewest rounds with which any of ``benchmarks`` can be significant at all.

    n rounds that all agree give the signed-rank test its smallest one-sided p-value,
    1 / 2**n; Holm's first step needs it below alpha / benchmarks.
    """
    return max(1, math.floor(math.log2(max(benchmarks, 1) / alpha)) + 1)


def _pooled(runs: list[SuiteRun], run_id: str) -> SuiteRun:
    """All rounds of one side as one run (pooled samples), for the report's value columns."""
    names = _in_every_round(runs)
    per_round = [tuple(b for b in r.benchmarks if b.name in names) for r in runs]
    return replace(runs[0], run_id=run_id, benchmarks=merge_processes(*per_round),
                   raw_path=None)


def _how_measured(ab: ABRun) -> str:
    """How a round measured the two commits, for the report's notes."""
    if ab.processes == 1:
        return "each measuring both commits back to back"
    return (f"each measuring both commits alternately in {ab.processes} pytest processes "
            "each (a side's samples pooled)")


def _too_few_rounds(n: int, hypotheses: int, alpha: float) -> str | None:
    needed = min_rounds(hypotheses, alpha)
    if n >= needed:
        return None
    return (f"Too few rounds to decide: with {n} rounds the smallest possible p-value is "
            f"{0.5 ** n:.2g}, above the first Holm threshold alpha/{hypotheses}; no "
            f"benchmark can be significant. Use --rounds {needed} or more.")


def _no_factor(ab: ABRun, controls: tuple[str, ...],
               left_out: Collection[LeftOut] = ()) -> str | None:
    """A warning when the rounds are too narrow to remove a suite-wide factor: each
    then carries its processes' whole noise, which the factor removal exists for."""
    if not ab.rounds or controls:
        return None
    # What every round measured on both sides: a benchmark lost after round 1 leaves the
    # rest to be judged without a factor, which round 1's width alone did not show; nor
    # does one left out (``left_out``) count.
    base, candidate = paired_round_values(ab)
    width = len(set(base) & set(candidate) - {lo.name for lo in left_out})
    if width >= MIN_BENCHMARKS_FOR_SHIFT:
        return None
    return (f"Only {width} benchmark(s) per round: no suite-wide factor can be removed "
            f"(that needs {MIN_BENCHMARKS_FOR_SHIFT}), so each round carries its processes' "
            "whole noise (10-15 % per process on a shared VM). With --adaptive, add two or "
            "more --control benchmarks.")


def _notes(ab: ABRun, settings: Settings, comparison: SuiteComparison,
           too_few: str | None, no_factor: str | None) -> tuple[str, ...]:
    n = len(ab.rounds)
    candidate_first = sum(r.order[0] == "candidate" for r in ab.rounds)
    notes = [
        f"Interleaved A/B run: {n} rounds, {_how_measured(ab)}, in a "
        f"random order (candidate first in {candidate_first} of {n}; seed {ab.seed}). "
        "Each benchmark's per-round values (a side's fastest sample) are compared pairwise "
        "(Hodges-Lehmann of the per-round log-ratios, Wilcoxon signed-rank) "
        + ("after removing each round's suite-wide factor, which is tested on its own; "
           if no_factor is None else "with each round's suite-wide factor left in (see "
           "below); ") +
        f"{comparison.correction}-corrected across the suite at alpha {settings.alpha:g}, "
        f"threshold {settings.threshold:g}.",
        f"Raw files: {ab.raw_dir}",
    ]
    if comparison.new or comparison.missing:
        notes.append("Benchmarks not measured on both sides are listed, not compared.")
    for warning in (too_few, no_factor):
        if warning:
            notes.append(warning)
    return tuple(notes)


def run_ab(ws: Workspace, base_ref: str, candidate_ref: str, *, rounds: int = 10,
           seed: int | None = None, report_path: Path | None = None,
           select: ABSelection | None = None,
           on_round: Callable[[int, int], None] | None = None) -> ABOutcome:
    """Measure both commits in ``rounds`` interleaved rounds; judge; write the report."""
    settings = ws.settings
    ab = measure_ab(settings, base_ref, candidate_ref, rounds=rounds, seed=seed,
                    select=select, on_round=on_round, check_selection=True)
    # A benchmark with a round of 0.0 s is left out, not the A/B with it.
    base, candidate, left_out = usable_rounds(*paired_round_values(ab))
    require_a_target(left_out, set(base) & set(candidate))
    comparison = compare_rounds(base, candidate, threshold=settings.threshold,
                                alpha=settings.alpha)
    base_runs = [r.base for r in ab.rounds]
    too_few = _too_few_rounds(len(ab.rounds), len(comparison.results), settings.alpha)
    no_factor = _no_factor(ab, (), left_out)
    partial = _partial(ab, comparison, left_out)
    data = ReportData(
        title=f"A/B: {ab.candidate.sha[:7]} against {ab.base.sha[:7]}",
        generated_at=now_iso(),
        current=_pooled([r.candidate for r in ab.rounds], f"{ab.ab_id}-candidate"),
        baseline=build_baseline(base_runs, policy="ab", created_at=now_iso()),
        comparison=comparison,
        notes=_notes(ab, settings, comparison, too_few, no_factor) + ((
            "Not measured in every round, so not compared (a round pairs each benchmark "
            "once): " + ", ".join(partial) + ".",) if partial else ())
        + tuple(lo.note for lo in left_out),
    )
    out_dir = ws.layout.ab_report_dir(ab.raw_dir)
    files = write_report(with_report_location(ws, data, out_dir), out_dir,
                         markdown_path=report_path)
    return ABOutcome(ab=ab, comparison=comparison, files=files, too_few_rounds=too_few,
                     no_factor=no_factor, partial=partial, left_out=left_out)



def _sequential_notes(ab: ABRun, settings: Settings, result: SequentialResult,
                      max_rounds: int, budget_s: float | None,
                      controls: tuple[str, ...], no_factor: str | None) -> tuple[str, ...]:
    n = len(ab.rounds)
    candidate_first = sum(r.order[0] == "candidate" for r in ab.rounds)
    decided = len(result.decided_at)
    notes = [
        f"Adaptive interleaved A/B run: {n} of at most {max_rounds} rounds used "
        f"(stopped: {result.stopped}), {_how_measured(ab)}, in a "
        f"random order (candidate first in {candidate_first} of {n}; seed "
        f"{ab.seed}). After each look the per-round log-ratios, with each round's "
        f"suite-wide factor {'removed' if no_factor is None else 'left in (see below)'}, "
        "are tested with a level spent over the looks "
        f"(Pocock-type), so stopping early stays valid; alpha {settings.alpha:g} across "
        f"the suite, threshold {settings.threshold:g}. {decided} of "
        f"{len(result.comparison.results)} decided; the rest are inconclusive.",
        f"Raw files: {ab.raw_dir}",
    ]
    if controls:
        notes.append("Controls, measured but not tested (each round's suite factor is "
                     "their median): " + ", ".join(controls) + ".")
    if no_factor:
        notes.append(no_factor)
    if budget_s is not None and ab.stopped == "budget":
        notes.append(f"The time budget of {budget_s:g} s ran out before every benchmark "
                     "was decided.")
    return tuple(notes)


def _targets_beside_controls(first: Mapping[str, object], select: ABSelection
                              ) -> tuple[str, ...]:
    """The benchmarks to test when ``select`` names controls: every measured one that is
    not a control. Checked on the first round, before any verdict."""
    names = sorted(first)
    controls = [n for n in names if select.is_control(n)]
    missing = [c for c, covered in select.control_matches(names).items() if not covered]
    if missing:
        raise InvalidInputError(f"control {missing[0]!r} matched no benchmark of the "
                                "first round")
    if len(controls) < MIN_CONTROLS_FOR_FACTOR:
        raise InvalidInputError(
            f"the controls matched {len(controls)} benchmark(s); a round's factor needs "
            f"at least {MIN_CONTROLS_FOR_FACTOR}")
    targets = tuple(n for n in names if n not in controls)
    if not targets:
        raise InvalidInputError("every benchmark measured is a control: nothing to test")
    return targets


def check_max_rounds(max_rounds: int) -> None:
    """Refuse, before anything is measured, a limit the design cannot work within."""
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) \
            or not DEFAULT_MIN_ROUNDS <= max_rounds <= MAX_ROUNDS:
        raise InvalidInputError(
            f"--max-rounds must be in {DEFAULT_MIN_ROUNDS}..{MAX_ROUNDS} (the adaptive "
            f"design first looks after {DEFAULT_MIN_ROUNDS} rounds), got {max_rounds!r}")


def _before_the_first_look(ab: ABRun, settings: Settings, targets: tuple[str, ...] | None
                           ) -> tuple[SequentialResult, str]:
    """The rounds a budget let through before the first look, judged as a fixed-round
    A/B (``compare_rounds``): too few to find anything at alpha, said as such, but what
    was measured is shown, not thrown away."""
    base, candidate = paired_round_values(ab)
    if targets is not None:
        base = {n: v for n, v in base.items() if n in targets}
        candidate = {n: v for n, v in candidate.items() if n in targets}
    base, candidate, left_out = usable_rounds(base, candidate)
    comparison = compare_rounds(base, candidate, threshold=settings.threshold,
                                alpha=settings.alpha)
    n = len(ab.rounds)
    why = (f"The time budget ended the run after {n} round(s), before the adaptive "
           f"design's first look at {DEFAULT_MIN_ROUNDS}: the rounds measured are judged "
           f"as a fixed-round A/B, far too few to decide (raise confirm_budget_s, or "
           f"select fewer benchmarks with -k/--node-id).")
    result = SequentialResult(comparison=comparison, rounds_used=n, looks=(),
                              decided_at={}, stopped=ab.stopped or "exhausted",
                              left_out=left_out)
    return result, why


def _with_one_sided(comparison: SuiteComparison, ab: ABRun) -> SuiteComparison:
    """``comparison`` listing what the first round measured on one side only (and what the
    design lost on the way, already in ``missing``): shown, never silently left out."""
    if not ab.rounds:
        return comparison
    first = ab.rounds[0]
    base = {b.name for b in first.base.benchmarks if b.samples_s}
    cand = {b.name for b in first.candidate.benchmarks if b.samples_s}
    return replace(comparison,
                   new=tuple(sorted(set(comparison.new) | (cand - base))),
                   missing=tuple(sorted(set(comparison.missing) | (base - cand))))


def run_adaptive_ab(ws: Workspace, base_ref: str, candidate_ref: str, *,
                    max_rounds: int | None = None, seed: int | None = None,
                    report_path: Path | None = None, select: ABSelection | None = None,
                    budget_s: float | None = None,
                    on_round: Callable[[int, int], None] | None = None) -> ABOutcome:
    """The sequential design: measure a round at a time until every benchmark (and the
    suite-wide shift) is decided (``analysis.sequential_ab``), at most ``max_rounds``
    (default ``DEFAULT_MAX_ROUNDS``, 20: an A/B of a whole suite is long, and a
    confirmation of a few flagged benchmarks has ``confirm_max_rounds``) or ``budget_s``
    seconds; judge; write the report."""
    settings = ws.settings
    max_rounds = DEFAULT_MAX_ROUNDS if max_rounds is None else max_rounds
    check_max_rounds(max_rounds)
    short: str | None = None
    choice = ab_variance_prior(ws, processes=settings.ab_processes)
    with iter_ab_rounds(settings, base_ref, candidate_ref, max_rounds=max_rounds, seed=seed,
                        select=select, budget_s=budget_s, on_round=on_round,
                        check_selection=True) as ab_rounds:
        counted = CountedRounds(round_values(r) for r in ab_rounds)
        rounds: Iterator[dict[str, tuple[float, float]]] = counted
        targets = None
        if select is not None and select.controls:
            first = next(rounds, None)
            if first is not None:
                targets = _targets_beside_controls(first, select)
                rounds = itertools.chain([first], rounds)
        try:
            result = sequential_ab(rounds, threshold=settings.threshold,
                                   alpha=settings.alpha, max_rounds=max_rounds,
                                   targets=targets, prior=choice.prior)
        except InvalidInputError:
            if not (counted.exhausted and 0 < counted.n < DEFAULT_MIN_ROUNDS):
                raise  # bad values, not a run the budget cut short
            result = None
    ab = ab_rounds.to_run()
    if result is None:  # the budget ended it before the first look
        result, short = _before_the_first_look(ab, settings, targets)
    if ab.stopped == "budget" and result.stopped == "exhausted":
        result = replace(result, stopped="budget")
    result = replace(result, comparison=_with_one_sided(result.comparison, ab))
    # Every target left out (a round of 0.0 s each): no verdict, said as bad input.
    require_a_target(result.left_out, [r.name for r in result.comparison.results
                                       if r.name != SUITE_SHIFT_NAME])
    controls = select.controls if select is not None else ()
    no_factor = _no_factor(ab, controls, result.left_out)
    data = ReportData(
        title=f"Adaptive A/B: {ab.candidate.sha[:7]} against {ab.base.sha[:7]}",
        generated_at=now_iso(),
        current=_pooled([r.candidate for r in ab.rounds], f"{ab.ab_id}-candidate"),
        baseline=build_baseline([r.base for r in ab.rounds], policy="ab",
                                created_at=now_iso()),
        comparison=result.comparison,
        notes=_sequential_notes(ab, settings, result, max_rounds, budget_s, controls,
                                no_factor)
        # Cut short before the first look: judged as a fixed-round A/B, which has no prior.
        + ((short,) if short else (choice.note,))
        + ((result.stale_prior_note,) if result.stale_prior_note else ())
        + tuple(lo.note for lo in result.left_out),
    )
    out_dir = ws.layout.ab_report_dir(ab.raw_dir)
    files = write_report(with_report_location(ws, data, out_dir), out_dir,
                         markdown_path=report_path)
    return ABOutcome(ab=ab, comparison=result.comparison, files=files, sequential=result,
                     no_factor=no_factor, too_few_rounds=short,
                     prior=None if short else choice, left_out=result.left_out)
