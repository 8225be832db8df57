"""The gate's second stage: confirm every flag of the screen by a sequential interleaved A/B.

The stored-baseline comparison has to allow for the run-to-run noise of the machine, so
at a level that keeps false alarms rare it misses real changes, and at a level that
finds them it raises false alarms. With ``confirm = "auto"`` it is therefore only a
*screen* at a loose level (``analysis.SCREEN_ALPHA``): sensitive, not trusted alone.
Every benchmark it calls a regression (and a flagged suite-wide shift) is measured again
here, base commit against candidate in alternating rounds, and only what that A/B
confirms fails the gate:

* **What runs.** The flagged benchmarks (pytest node ids); when fewer than five are
  flagged, the unflagged ones the screen could not clear, most suspicious first
  (``analysis.suspects_for_confirmation``: decided like the flags); plus a few others as
  *controls* (``analysis.choose_controls``: the screen's most stable ones, enough for
  ``MIN_BENCHMARKS_FOR_SHIFT`` per round). A process slows all of its benchmarks
  together; the A/B removes that by the round's median log-ratio of the controls (of
  every benchmark measured, when there are too few controls). A flagged suite-wide shift
  concerns every benchmark: the whole suite runs.
  Each process gives a round one number per benchmark: ``round_value`` (its fastest
  sample), as in the replay studies.
* **How long.** ``analysis.confirm_flagged`` (``sequential_ab``, one-sided: only "is it
  slower?" is asked) pulls rounds one at a time and stops once every target is decided
  (a confirmed regression, or cleared), at ``confirm_max_rounds``, or when the round
  source stops (``confirm_budget_s`` spent).
* **The verdict.** ``Confirmation.final``: the A/B's result for each flagged benchmark
  (undecided is inconclusive), and for everything else — unflagged benchmarks, other
  metrics such as memory, which the A/B does not re-measure — the stored-baseline
  comparison at the gate's own level (``settings.alpha``), as with ``confirm = "off"``.

The round source is injectable (``RoundSource``): the product measures rounds
(``measured_rounds``), tests and studies feed recorded ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from perf_pipeline.analysis import (
    SUITE_SHIFT_NAME,
    VariancePrior,
    confirm_flagged,
    flagged_for_confirmation,
    plan_confirmation,
    round_value,
)
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.measure.ab import ABRound, iter_ab_rounds
from perf_pipeline.measure.ab_selection import ABSelection
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.model import (
    AB_CORRECTION_NOTE,
    TIME_METRIC,
    Baseline,
    BenchmarkComparison,
    Confirmation,
    SuiteComparison,
    SuiteRun,
    Verdict,
)
from perf_pipeline.pipeline.ab_prior import ab_variance_prior
from perf_pipeline.pipeline.baseline import baseline_for_run, machines_apart, now_iso
from perf_pipeline.pipeline.regression import analyze_run, commit_run, screen_alpha
from perf_pipeline.store import read_confirmation, write_confirmation
from perf_pipeline.workspace import Workspace

__all__ = [
    "CountedRounds",
    "RoundFeed",
    "RoundSource",
    "confirm_commit",
    "confirm_regressions",
    "confirm_run",
    "measured_rounds",
    "read_commit_confirmation",
    "round_values",
]

Round = Mapping[str, tuple[float, float]]


@dataclass(frozen=True, slots=True)
class RoundFeed:
    """Rounds for the A/B, as ``{benchmark: (base value, candidate value)}``, pulled lazily.

    ``close`` is called when the A/B has pulled what it needs; ``stopped`` then says why
    the source itself ended, if it did (``"budget"``), and ``raw_dir`` where its files are.
    """

    rounds: Iterator[Round]
    close: Callable[[], None] = lambda: None
    stopped: Callable[[], str | None] = lambda: None
    raw_dir: Path | None = None
    #: Told which benchmarks later rounds still need (the A/B drops decided ones).
    narrow: Callable[[tuple[str, ...]], None] | None = None


#: Given what to measure (empty selection: the whole suite), a feed of rounds.
RoundSource = Callable[[ABSelection], RoundFeed]


def round_values(rnd: ABRound) -> dict[str, tuple[float, float]]:
    """One value per benchmark and side of a round (``analysis``' ``round_value``: the
    process's fastest sample), as ``sequential_ab`` and the replay studies take them.

    The process is the unit of replication, so a round contributes one number per side;
    benchmarks measured on one side only are left out.
    """
    out: dict[str, tuple[float, float]] = {}
    for bench in rnd.base.benchmarks:
        other = rnd.candidate.benchmark(bench.name)
        if other is not None and bench.samples_s and other.samples_s:
            out[bench.name] = (round_value(bench.samples_s), round_value(other.samples_s))
    return out


def measured_rounds(ws: Workspace, base_sha: str, candidate_sha: str, *,
                    seed: int | None = None,
                    on_round: Callable[[int, int], None] | None = None) -> RoundSource:
    """The product's round source: interleaved rounds measured on this machine, within
    ``confirm_max_rounds`` and ``confirm_budget_s``."""
    settings = ws.settings

    def source(select: ABSelection) -> RoundFeed:
        ab_rounds = iter_ab_rounds(settings, base_sha, candidate_sha,
                                   max_rounds=settings.confirm_max_rounds, select=select,
                                   seed=seed, budget_s=settings.confirm_budget_s,
                                   on_round=on_round)
        return RoundFeed(rounds=(round_values(r) for r in ab_rounds), close=ab_rounds.close,
                         stopped=lambda: ab_rounds.stopped, raw_dir=ab_rounds.raw_dir,
                         narrow=ab_rounds.narrow if select.node_ids else None)

    return source


class CountedRounds(Iterator[Round]):
    """Counts the rounds the A/B pulled and whether the source ran dry (to tell a short
    run — the budget spent before the first look — from bad data)."""

    def __init__(self, rounds: Iterable[Round]) -> None:
        self._it = iter(rounds)
        self.n = 0
        self.exhausted = False

    def __next__(self) -> Round:
        try:
            item = next(self._it)
        except StopIteration:
            self.exhausted = True
            raise
        self.n += 1
        return item


def _inconclusive(result: BenchmarkComparison, reason: str) -> BenchmarkComparison:
    return replace(result, comparison=replace(result.comparison, verdict=Verdict.INCONCLUSIVE,
                                              reason=reason, significant=False))


def _final(standing: SuiteComparison, confirmed: Mapping[str, BenchmarkComparison],
           alpha: float) -> SuiteComparison:
    """``standing`` with the flagged time results replaced by the A/B's."""
    results = tuple(confirmed.get(r.name, r) if r.metric == TIME_METRIC else r
                    for r in standing.results)
    return SuiteComparison(
        results=results, alpha=alpha, new=standing.new, missing=standing.missing,
        failed=standing.failed,
        correction=(f"{standing.correction}; {AB_CORRECTION_NOTE}" if confirmed
                    else standing.correction))


def confirm_regressions(
    screen: SuiteComparison,
    *,
    base_sha: str | None,
    candidate_sha: str | None,
    run_id: str,
    created_at: str,
    rounds: RoundSource,
    threshold: float,
    alpha: float,
    max_rounds: int,
    standing: SuiteComparison | None = None,
    prior: VariancePrior | None = None,
) -> Confirmation:
    """Confirm the screen's flags by a sequential A/B of ``base_sha`` against the candidate.

    ``screen``: the stored-baseline comparison at the screen's level; ``standing``: the
    same at the gate's level ``alpha`` (default: ``screen``), whose results stand for
    everything the A/B does not re-measure. The plan (flags, suspects, controls,
    weights) is ``analysis.plan_confirmation``, as in the replay studies. Nothing
    flagged: no round is pulled. No A/B possible (no base commit, or it is the
    candidate): ``standing`` decides, as with ``confirm = "off"``, and a note says so.
    ``prior``: this machine's recorded spread per round (``pipeline.ab_prior``).
    """
    standing = standing or screen
    plan = plan_confirmation(screen)
    flagged = plan.flagged

    def make(status: str, confirmed: Mapping[str, BenchmarkComparison], **kw: object
             ) -> Confirmation:
        return Confirmation(sha=candidate_sha, run_id=run_id, created_at=created_at,
                            status=status, screen_alpha=screen.alpha, screen=screen,
                            final=_final(standing, confirmed, alpha), base_sha=base_sha,
                            flagged=flagged, suspects=suspects, max_rounds=max_rounds,
                            **kw)  # type: ignore[arg-type]

    suspects: tuple[str, ...] = ()
    if not flagged:
        return make("nothing_flagged", {})
    suspects, targets, controls = plan.suspects, plan.targets, plan.controls
    if base_sha is None or base_sha == candidate_sha:
        suspects = ()  # nothing is confirmed: the standing comparison decides them all
        why = ("no base commit to measure against (the baseline records none)"
               if base_sha is None else "the base commit is the candidate itself")
        return make("not_possible", {}, controls=controls, notes=(
            f"Confirmation not possible: {why}; the stored-baseline comparison at "
            f"alpha {alpha:g} decides.",))
    whole_suite = SUITE_SHIFT_NAME in flagged
    select = ABSelection() if whole_suite else ABSelection(node_ids=(*targets, *controls))
    feed = rounds(select)
    counted = CountedRounds(feed.rounds)
    result = None
    try:
        result = confirm_flagged(counted, targets, threshold=threshold, alpha=alpha,
                                 max_rounds=max_rounds,
                                 weights=plan.weights, narrow=feed.narrow,
                                 expected=plan.expected, prior=prior)
    except InvalidInputError:
        if not (counted.exhausted and counted.n < max_rounds):
            raise  # bad data or options, not a short run
    except MeasurementError as exc:
        # A side of a round failed (a crash or hang in this A/B only): no A/B is possible,
        # as without a base commit, so the stored-baseline comparison at the gate's level
        # decides, and the report (written all the same) says why.
        feed.close()
        raw_dir = str(feed.raw_dir) if feed.raw_dir is not None else None
        suspects = ()  # nothing was confirmed
        return make("not_possible", {}, controls=controls, rounds_used=counted.n,
                    whole_suite=whole_suite, stopped="failed", raw_dir=raw_dir, notes=(
                        f"Confirmation failed after {counted.n} round(s) ({exc}); the "
                        f"stored-baseline comparison at alpha {alpha:g} decides.",))
    finally:
        feed.close()
    source_stop = feed.stopped()
    raw_dir = str(feed.raw_dir) if feed.raw_dir is not None else None
    if result is None:
        why = (f"the A/B stopped ({source_stop or 'no more rounds'}) after {counted.n} "
               "round(s), before its first look")
        rows = {r.name: r for r in screen.results
                if r.metric == TIME_METRIC and r.name in targets}
        reason = f"flagged by the screen, undecided: {why}"
        return make("confirmed", {n: _inconclusive(rows[n], reason) for n in flagged},
                    controls=controls, rounds_used=counted.n, whole_suite=whole_suite,
                    stopped=source_stop or "exhausted", raw_dir=raw_dir,
                    notes=(f"{len(flagged)} flagged benchmark(s) undecided: {why}.",))
    stopped = source_stop if result.stopped == "exhausted" and source_stop else result.stopped
    confirmed = {r.name: r for r in result.comparison.results}
    # A target the A/B lost before its first look (no longer measured on both sides) is
    # undecided like one lost later: inconclusive, never left to the stored comparison
    # (one flaky skip must not flip the gate by the round it happened in).
    screen_rows = {r.name: r for r in screen.results if r.metric == TIME_METRIC}
    for name in result.comparison.missing:
        if name in screen_rows:
            confirmed[name] = _inconclusive(screen_rows[name], (
                "flagged by the screen, undecided: not measured on both sides of the A/B "
                "before its first look"))
    # A target left out of the A/B (a round of 0.0 s: ``analysis.ab_left_out``) is
    # undecided too, and says why; a control left out only takes no part in the factor.
    for lo in result.left_out:
        if lo.name in screen_rows and lo.name in targets:
            flag = "flagged by the screen, " if lo.name in flagged else ""
            confirmed[lo.name] = _inconclusive(
                screen_rows[lo.name], f"{flag}undecided: left out of the A/B: {lo.why}")
    undecided = (f"{len(result.undecided)} benchmark(s) undecided after "
                 f"{result.rounds_used} rounds ({stopped}): inconclusive."
                 if result.undecided else None)
    notes = (*(n for n in (undecided, result.stale_prior_note) if n),
             *(lo.note for lo in result.left_out))
    if result.undecided:
        for name in result.undecided:
            if confirmed[name].comparison.verdict is not Verdict.INCONCLUSIVE:
                confirmed[name] = _inconclusive(confirmed[name], (
                    f"undecided after {result.rounds_used} rounds ({stopped}); "
                    f"{confirmed[name].comparison.reason}"))
    return make("confirmed", confirmed, whole_suite=whole_suite,
                controls=controls, ab=result.comparison, rounds_used=result.rounds_used,
                stopped=stopped, decided_at=tuple(sorted(result.decided_at.items())),
                raw_dir=raw_dir, notes=notes)


def read_commit_confirmation(ws: Workspace, sha: str, *,
                             run_id: str | None = None) -> Confirmation | None:
    """The commit's confirmation file; with ``run_id``, only if it confirmed that run."""
    confirmation = read_confirmation(ws.layout.confirmation_path(sha))
    if confirmation is not None and run_id is not None and confirmation.run_id != run_id:
        return None
    return confirmation


def _base_sha(settings: Settings, baseline: Baseline | None) -> str | None:
    """The A/B's reference: ``confirm_base`` (a PR's merge base), else the newest commit
    the baseline was built from."""
    if settings.confirm_base:
        return resolve_commit(settings.repo_path, settings.confirm_base)
    if baseline is not None and baseline.source_commits:
        return baseline.source_commits[-1]
    return None


def _commit_in_repo(settings: Settings, sha: str | None) -> str | None:
    """``sha`` if the configured repo has it (runs read from plain files may not)."""
    if sha is None:
        return None
    try:
        return resolve_commit(settings.repo_path, sha)
    except InvalidInputError:
        return None


def confirm_run(ws: Workspace, run: SuiteRun, baseline: Baseline | None, *,
                rounds: RoundSource | None = None, seed: int | None = None,
                on_round: Callable[[int, int], None] | None = None) -> Confirmation:
    """Both stages for ``run`` against ``baseline`` (``confirm = "off"``: the first only).

    ``rounds`` defaults to rounds measured on this machine. When the run's commit or the
    base commit is not in the configured repo, or the run was measured on another
    machine, no A/B can run: the stored-baseline comparison at ``settings.alpha``
    decides and a note says why.
    """
    settings = ws.settings
    created_at = now_iso()
    strict = analyze_run(run, baseline, settings,
                         other_machines=machines_apart(ws, run, baseline))
    if strict.comparison is None:  # no baseline: nothing to screen against
        return Confirmation(sha=run.sha, run_id=run.run_id,
                            created_at=created_at, status="nothing_flagged",
                            screen_alpha=screen_alpha(settings), screen=None, final=None,
                            notes=strict.notes)
    if settings.confirm == "off":
        # The one stage flags what it calls a regression: left empty, every report and
        # the backfill line said "flagged nothing" above the regressions that failed it.
        return Confirmation(sha=run.sha, run_id=run.run_id,
                            created_at=created_at, status="off", screen_alpha=settings.alpha,
                            screen=strict.comparison, final=strict.comparison,
                            flagged=flagged_for_confirmation(strict.comparison))
    screen = analyze_run(run, baseline, settings, screen=True).comparison
    assert screen is not None
    candidate = _commit_in_repo(settings, run.sha)
    # The base is resolved only when there is something to confirm: a configured
    # confirm_base the clone lacks must not fail a commit the screen found nothing in.
    needs_ab = bool(plan_confirmation(screen).flagged)
    base = _base_sha(settings, baseline) if candidate and needs_ab else None
    if candidate is not None and base is not None and _commit_in_repo(settings, base) is None:
        base = None
    here = local_machine_id(settings) if rounds is None else None
    elsewhere = here is not None and run.machine_id is not None and run.machine_id != here
    if elsewhere:  # an A/B here would confirm another machine's flags with this one's
        base = None
    if rounds is None and candidate is not None and base is not None:
        rounds = measured_rounds(ws, base, candidate, seed=seed, on_round=on_round)
    choice = (ab_variance_prior(ws, processes=settings.ab_processes)
              if candidate is not None and base is not None else None)
    confirmation = confirm_regressions(
        screen, base_sha=base, candidate_sha=candidate or run.sha,
        run_id=run.run_id, created_at=created_at,
        rounds=rounds or _no_rounds, threshold=settings.threshold, alpha=settings.alpha,
        max_rounds=settings.confirm_max_rounds, standing=strict.comparison,
        prior=choice.prior if choice is not None else None)
    if choice is not None and choice.profile is not None and confirmation.ab is not None:
        # Used, or this machine's recording could not be: either way the report says so.
        confirmation = replace(confirmation, notes=(*confirmation.notes, choice.note))
    if elsewhere and confirmation.status == "not_possible":
        confirmation = replace(confirmation, notes=(
            f"Confirmation not possible here: the run was measured on machine "
            f"{run.machine_id}, this is machine {here}, and an A/B only confirms flags of "
            f"the machine it runs on; the stored-baseline comparison at alpha "
            f"{settings.alpha:g} decides.",))
    return confirmation


def _no_rounds(select: ABSelection) -> RoundFeed:
    raise InvalidInputError("no A/B is possible without both commits")  # never reached


def confirm_commit(ws: Workspace, sha: str, *, rounds: RoundSource | None = None,
                   seed: int | None = None) -> Confirmation:
    """Confirm the commit's latest successful run; write ``confirmation/<sha>.json``."""
    run = commit_run(ws, sha)
    confirmation = confirm_run(ws, run, baseline_for_run(ws, run), rounds=rounds, seed=seed)
    write_confirmation(ws.layout.confirmation_path(sha), confirmation)
    return confirmation
