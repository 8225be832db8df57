"""Confirming a culprit: the interleaved A/B of the named commit against its parent.

Bisection names the commit where the measured level crossed, but each probe is one
measurement at its own moment. So before a commit is called the culprit it is measured
against its parent, round by round and in random order, with the gate's confirmation
machinery (``measured_rounds`` and ``analysis.confirm_flagged``): a few steady benchmarks
run beside it as controls, so each round's suite-wide factor can be removed.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from perf_pipeline.analysis import confirm_flagged
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


def _controls(history: SearchHistory, benchmark: str, n: int = N_CONTROLS, *,
              at: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The ``n`` other benchmarks whose histories are steadiest (median absolute change
    of the log value from one measured commit to the next): they carry the round's
    factor with the least noise of their own. Only benchmarks with a value at every
    measured commit of ``at`` (the A/B's two sides): one renamed or deleted before them
    is not there to run, and naming it made pytest fail the A/B's first round."""

    def spread(name: str) -> float:
        vals = np.log(np.asarray(history.series[name][1], dtype=float))
        return float(np.median(np.abs(np.diff(vals)))) if vals.size > 2 else math.inf

    def present(name: str) -> bool:
        values = history.values.get(name, {})
        return all(sha in values for sha in at if sha in history.succeeded)

    others = sorted((n_ for n_ in history.series if n_ != benchmark and present(n_)),
                    key=lambda name: (spread(name), name))
    return tuple(sorted(others[:n]))


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
    controls = _controls(read_search_history(ws), spec.benchmark,
                         at=(sha, parent, step.good))
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
    if result is None:
        culprit = Culprit(status="not_confirmed", **base, **who,  # type: ignore[arg-type]
                          rounds_used=counted.n, notes=(
                              f"the A/B stopped ({feed.stopped() or 'no more rounds'}) after "
                              f"{counted.n} round(s), before its first look",))
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
    return record_result(ws, spec, replace(culprit, notes=(*culprit.notes, *_outlier_notes(step))))


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

