"""Confirming a culprit: the interleaved A/B of the named commit against its parent.

Bisection names the commit where the measured level crossed, but each probe is one
measurement at its own moment. So before a commit is called the culprit it is measured
against its parent, round by round and in random order, with the gate's confirmation
machinery (``measured_rounds`` and ``analysis.confirm_flagged``): a few steady benchmarks
run beside it as controls, so each round's suite-wide factor can be removed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from perf_pipeline.analysis import MIN_CONTROLS_FOR_FACTOR, confirm_flagged
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.ab_selection import ABSelection
from perf_pipeline.measure.git import commit_info, first_parent
from perf_pipeline.model import BisectStep, Culprit, Verdict
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.pipeline.confirm import CountedRounds, RoundSource, measured_rounds
from perf_pipeline.pipeline.culprit_history import SearchHistory, read_search_history
from perf_pipeline.pipeline.culprit_result import read_earlier_result, record_result
from perf_pipeline.pipeline.culprit_search import CulpritSearch
from perf_pipeline.workspace import Workspace

__all__ = ["N_CONTROLS", "confirm_culprit", "unconfirmed_culprit"]

#: Benchmarks measured alongside the culprit's in its A/B, so each round's suite-wide
#: factor can be removed (as the gate's confirmation does).
N_CONTROLS = 4


#: A benchmark is no control of the A/B when its median moved across the step by more
#: than this many times its steadiness, and by more than ``STEP_SHARE`` of the step.
CHANGE_MULTIPLE = 3.0
#: The share of the step (in log) a control may have moved: too little to matter.
STEP_SHARE = 0.25
#: Measured commits per side of the step whose values say where a benchmark stood.
SIDE_COMMITS = 3


@dataclass(frozen=True, slots=True)
class _Controls:
    """The A/B's controls, and the steady benchmarks left out because they changed across
    the step (steadiest first). ``chosen`` is empty when fewer than
    ``MIN_CONTROLS_FOR_FACTOR`` unchanged ones were found."""

    chosen: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: int  # how many unchanged benchmarks were found (before the fallback)


def _controls(history: SearchHistory, benchmark: str, n: int = N_CONTROLS, *,
              at: tuple[str, ...] = (), before: Sequence[str], after: Sequence[str],
              step_ratio: float) -> _Controls:
    """The ``n`` other benchmarks whose histories are steadiest (median absolute change
    of the log value from one measured commit to the next) and that did not change across
    the step: they carry the round's factor with the least noise of their own.

    Only benchmarks with a value at every measured commit of ``at`` (the A/B's two
    sides): one renamed or deleted before them is not there to run, and naming it made
    pytest fail the A/B's first round.

    A change that slowed a shared code path slowed several benchmarks in the culprit:
    the steadiest of them were controls, and the A/B divided the target's step out with
    them (a x3 step confirmed as x1.1, "not confirmed"). So a benchmark is a control only
    if it did not move across the step: the medians of its values at the
    ``SIDE_COMMITS`` measured commits nearest the step on each side (``before``: the
    range's commits before the culprit, nearest first; ``after``: the culprit and those
    after it) differ by no more than ``CHANGE_MULTIPLE`` times its steadiness (its own
    noise), or by no more than ``STEP_SHARE`` of the step (``step_ratio``, in log). The
    second bound keeps controls whose steadiness, from a short history, came out too
    small: the factor is a median of controls that each moved less than a quarter of the
    step, so it takes at most a quarter, and the A/B still sees three quarters of the
    step against a threshold of at most half of it.

    The values are those the search classified, each run without its suite-wide factor:
    "unchanged" means "moved as the suite's median did", so when most of the suite moved
    the A/B measures the step the search saw. With fewer than ``MIN_CONTROLS_FOR_FACTOR``
    unchanged benchmarks there are no controls: the A/B compares its rounds without a
    suite-wide factor rather than take one from benchmarks that moved."""

    def spread(name: str) -> float:
        vals = np.log(np.asarray(history.series[name][1], dtype=float))
        return float(np.median(np.abs(np.diff(vals)))) if vals.size > 2 else math.inf

    def present(name: str) -> bool:
        values = history.values.get(name, {})
        return all(sha in values for sha in at if sha in history.succeeded)

    def level(name: str, side: Sequence[str]) -> float | None:
        values = history.values.get(name, {})
        meds = [statistics.median(values[s]) for s in side if values.get(s)][:SIDE_COMMITS]
        return math.log(statistics.median(meds)) if meds else None

    def moved(name: str) -> bool | None:
        """Whether ``name`` changed across the step; None: its values cannot tell."""
        lo, hi, noise = level(name, before), level(name, after), spread(name)
        if lo is None or hi is None or not math.isfinite(noise):
            return None
        return abs(hi - lo) > max(CHANGE_MULTIPLE * noise, STEP_SHARE * math.log(step_ratio))

    others = sorted((n_ for n_ in history.series if n_ != benchmark and present(n_)),
                    key=lambda name: (spread(name), name))
    verdict = {name: moved(name) for name in others}
    kept = [name for name in others if verdict[name] is False]
    # Those that would have been controls, were it not for their change.
    candidates = others[:others.index(kept[n - 1])] if len(kept) >= n else others
    changed = tuple(name for name in candidates if verdict[name])
    chosen = tuple(sorted(kept[:n])) if len(kept) >= MIN_CONTROLS_FOR_FACTOR else ()
    return _Controls(chosen=chosen, changed=changed, unchanged=len(kept))


def _control_notes(controls: _Controls) -> tuple[str, ...]:
    """Says which benchmarks moved with the culprit (so are no controls), and when the
    A/B had none, that its ratio is as measured, each round's factor left in."""
    notes = []
    if controls.changed:
        names = ", ".join(controls.changed[:4]) + (", ..." if len(controls.changed) > 4
                                                     else "")
        notes.append(f"{len(controls.changed)} steady benchmark(s) moved across the step "
                     "against the rest of the suite (each run's suite-wide factor removed), "
                     f"so they are no controls: {names}")
    if not controls.chosen:
        notes.append(f"{controls.unchanged} benchmark(s) unchanged across the step, fewer "
                     f"than the {MIN_CONTROLS_FOR_FACTOR} a suite-wide factor needs: the "
                     "A/B compared its rounds without one")
    return tuple(notes)


def confirm_culprit(ws: Workspace, search: CulpritSearch, *,
                    rounds: RoundSource | None = None, seed: int | None = None,
                    probes: tuple[str, ...] = ()) -> Culprit:
    """A/B the search's culprit against its parent on its benchmark (plus controls),
    one-sided, sequential; write and return the result.

    Confirmed means the A/B calls it a regression at ``settings.alpha`` against a
    threshold of half the step (geometric: ``sqrt(step)``, at most ``settings.threshold``):
    the commit itself carries most of the step, not a neighbour.
    """
    settings = ws.settings
    spec, step = search.spec, search.step
    read_earlier_result(ws, spec)  # a broken one is refused before the A/B, not after it
    base = dict(benchmark=spec.benchmark, good_sha=spec.good, bad_sha=spec.bad,
                created_at=now_iso(), step_ratio=search.step_ratio, probes=probes,
                suspects=step.suspects)
    if step.culprit is None:
        culprit = Culprit(status="ambiguous", **base, notes=(  # type: ignore[arg-type]
            f"{len(step.suspects)} suspects left: the commits between them could not be "
            "measured (their suite failed, or ran without this benchmark)",
            *_outlier_notes(step)))
        return record_result(ws, spec, culprit)
    sha = step.culprit
    parent = _parent(ws, sha)
    info = commit_info(settings.repo_path, sha)
    threshold = min(settings.threshold, math.sqrt(search.step_ratio))
    # the culprit and its parent when measured, else the good end of the step: a
    # control must exist on both sides of the A/B
    pos = search.commits.index(sha)
    picked = _controls(read_search_history(ws), spec.benchmark, at=(sha, parent, step.good),
                       before=search.commits[pos - 1::-1] if pos else (),
                       after=search.commits[pos:], step_ratio=search.step_ratio)
    controls = picked.chosen
    source = rounds or measured_rounds(ws, parent, sha, seed=seed)
    feed = source(ABSelection(node_ids=(spec.benchmark, *controls)))
    counted = CountedRounds(feed.rounds)
    result = None
    try:
        result = confirm_flagged(counted, (spec.benchmark,), threshold=threshold,
                                 alpha=settings.alpha, max_rounds=settings.confirm_max_rounds)
    except InvalidInputError:
        if counted.n >= settings.confirm_max_rounds:
            raise  # bad data, not a short run
    finally:
        feed.close()
    who = dict(sha=sha, parent_sha=parent, subject=info.subject, author=info.author)
    left_out = {lo.name: lo for lo in result.left_out} if result is not None else {}
    if result is None:
        culprit = Culprit(status="not_confirmed", **base, **who,  # type: ignore[arg-type]
                          rounds_used=counted.n, notes=(
                              f"the A/B stopped ({feed.stopped() or 'no more rounds'}) after "
                              f"{counted.n} round(s), before its first look",))
    elif spec.benchmark in left_out:
        # Its time had no ratio in a round (0.0 s: ``analysis.ab_left_out``): not judged.
        culprit = Culprit(status="not_confirmed", **base, **who,  # type: ignore[arg-type]
                          rounds_used=result.rounds_used, notes=(
                              f"the A/B could not judge {spec.benchmark!r}: "
                              f"{left_out[spec.benchmark].why}",))
    else:
        row = next(r for r in result.comparison.results if r.name == spec.benchmark)
        c = row.comparison
        confirmed = c.verdict is Verdict.REGRESSION
        culprit = Culprit(
            status="confirmed" if confirmed else "not_confirmed", **base, **who,  # type: ignore[arg-type]
            confirmed_ratio=c.ratio, ci_low=c.ci_low, ci_high=c.ci_high,
            verdict=str(c.verdict), rounds_used=result.rounds_used,
            notes=(f"interleaved A/B of {sha[:10]} against its parent {parent[:10]}: "
                   f"{result.rounds_used} round(s) ({result.stopped}), {len(controls)} "
                   f"control(s), threshold x{threshold:.3f}, alpha {settings.alpha:g}",))
    return record_result(ws, spec, replace(culprit, notes=(
        *culprit.notes, *_control_notes(picked), *_outlier_notes(step),
        *(lo.note for name, lo in left_out.items() if name != spec.benchmark))))


def _outlier_notes(step: BisectStep) -> tuple[str, ...]:
    """Says which measured commits the bisection overruled, so a reader can see that the
    evidence was not unanimous (and re-measure them) instead of finding out later."""
    if not step.outliers:
        return ()
    return (f"{len(step.outliers)} measured commit(s) classified against the named "
            f"boundary, taken for noisy measurements (more verdicts disagree with "
            f"them): {', '.join(s[:10] for s in step.outliers)}",)



def _parent(ws: Workspace, sha: str) -> str:
    """The commit the culprit ``sha`` changed: its first parent, from git. Not the
    search's last good commit, which is that parent only when the range is the chain of
    first parents it should be."""
    parent = first_parent(ws.settings.repo_path, sha)
    if parent is None:
        raise InvalidInputError(f"culprit {sha[:10]} is a root commit: no parent to A/B it "
                                "against")
    return parent


def unconfirmed_culprit(ws: Workspace, search: CulpritSearch, probes: tuple[str, ...]
                 ) -> Culprit:
    sha = search.step.culprit
    assert sha is not None
    info = commit_info(ws.settings.repo_path, sha)
    return Culprit(status="unconfirmed", benchmark=search.spec.benchmark,
                   good_sha=search.spec.good, bad_sha=search.spec.bad, created_at=now_iso(),
                   sha=sha, parent_sha=_parent(ws, sha), subject=info.subject,
                   author=info.author, step_ratio=search.step_ratio, probes=probes,
                   suspects=search.step.suspects,
                   notes=("no A/B was run", *_outlier_notes(search.step)))

