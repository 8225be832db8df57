"""Culprit search: bisect the unmeasured commits behind a step, confirm the one it names.

A change point between two measured commits with unmeasured commits in between says the
level moved somewhere in that range. The search measures one commit at a time — an
ordinary measurement of that commit, recorded in the history like any other — until one
commit is left, then confirms it by the interleaved A/B of that commit against its parent
(``culprit_confirm``) and writes ``culprits/<key>.json`` with its subject, author and the
confirmed ratio (``culprit_result``).

The state of a search is the history itself: which commits are measured, and their
values. A search is therefore a pure function of the store plus its definition
(``culprits/searches/<key>.json``: good, bad, benchmark; planned by ``culprit_search``),
which is what lets a Dagster sensor drive it one probe per tick (``culprit_actions``) and
the CLI drive it in a loop (``find_culprit``) with the same result: this module holds
those two drivers. A search is defined when the sensor sees a new change point framed by
measured commits with unmeasured ones between (``open_culprit_searches``), or on request
(``request_culprit_search``: e.g. for a history too short for change points).

Searches look for slowdowns: the new level is higher (slower or bigger) than the old.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from perf_pipeline.analysis import change_points_of
from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import (
    InvalidInputError,
    MeasurementError,
    PerfPipelineError,
    StoreError,
)
from perf_pipeline.measure import measure_commit
from perf_pipeline.model import TIME_METRIC, Culprit
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.pipeline.confirm import RoundSource
from perf_pipeline.pipeline.culprit_confirm import confirm_culprit, unconfirmed_culprit
from perf_pipeline.pipeline.culprit_history import SearchHistory, read_search_history
from perf_pipeline.pipeline.culprit_result import (
    culprit_path,
    read_culprits,
    read_earlier_result,
    record_result,
)
from perf_pipeline.pipeline.culprit_search import (
    MIN_STEP_RATIO,
    CulpritAction,
    CulpritSearch,
    SearchSpec,
    change_point_levels,
    choose_benchmark,
    commits_after,
    plan_search,
    search_range,
    shows_step,
    widen_good,
)
from perf_pipeline.store import read_culprit, write_culprit
from perf_pipeline.workspace import Workspace

# The search's types, plan, confirmation and results live in the culprit_* modules; the
# names callers of a culprit search use are re-exported here, its public API in one place.
__all__ = [
    "CulpritAction",
    "CulpritSearch",
    "SearchSpec",
    "confirm_culprit",
    "confirm_search",
    "culprit_actions",
    "culprit_path",
    "find_culprit",
    "open_culprit_searches",
    "plan_search",
    "read_culprits",
    "request_culprit_search",
    "search_spec",
]

logger = logging.getLogger(__name__)

#: A search that has not converged after this many probes is stopped (a bisection over
#: a million commits needs 20).
MAX_PROBES = 40


def _search_path(ws: Workspace, spec: SearchSpec) -> Path:
    return ws.layout.culprit_search_path(spec.key)


# -- driving a search ---------------------------------------------------------------------


def _measure_probe(ws: Workspace) -> Callable[[str], None]:
    def probe(sha: str) -> None:
        measure_commit(ws.settings, sha, store=ws.store)  # a failed run is recorded: skipped

    return probe


def find_culprit(ws: Workspace, good: str, bad: str, *, keyword: str | None = None,
                 probe: Callable[[str], None] | None = None, confirm: bool = True,
                 rounds: RoundSource | None = None, seed: int | None = None,
                 on_step: Callable[[CulpritSearch], None] | None = None) -> Culprit:
    """Bisect ``good..bad`` (first parent) on the benchmark that slowed most (among those
    whose name contains ``keyword``), measuring commits with ``probe`` (default: a normal
    measurement recorded in the history), then confirm the culprit by an A/B."""
    commits = search_range(ws, good, bad)
    good, bad = commits[0], commits[-1]
    measure = probe or _measure_probe(ws)
    probes: list[str] = []
    history = read_search_history(ws)
    for end in (good, bad):
        if end not in {s for v in history.values.values() for s in v}:
            measure(end)
            probes.append(end)
    history = read_search_history(ws)
    benchmark = choose_benchmark(history, good, bad, keyword)
    spec = SearchSpec(good=good, bad=bad, benchmark=benchmark, trigger="request",
                      measured_before=tuple(s for s in commits if s in history.values.get(
                          benchmark, {})))
    read_earlier_result(ws, spec)  # a broken one is refused now, not after the probes
    search = plan_search(ws, spec, commits=commits)
    while not search.step.done:
        if len(probes) >= MAX_PROBES:
            raise InvalidInputError(f"culprit search {good[:10]}..{bad[:10]}: no "
                                    f"convergence after {MAX_PROBES} probes")
        if on_step is not None:
            on_step(search)
        assert search.step.probe is not None
        if search.step.probe in probes:
            # Its measurement left no trace the search can read (no run of it on this
            # machine): measuring it again would only repeat that, up to MAX_PROBES times.
            raise MeasurementError(
                f"culprit search {good[:10]}..{bad[:10]}: commit "
                f"{search.step.probe[:10]} was measured once but the history still has no "
                f"run of it on this machine; not measuring it again",
                sha=search.step.probe)
        measure(search.step.probe)
        probes.append(search.step.probe)
        search = plan_search(ws, spec, commits=commits)
    if on_step is not None:
        on_step(search)
    if not confirm and search.step.culprit is not None:
        return record_result(ws, spec, unconfirmed_culprit(ws, search, tuple(probes)))
    return confirm_culprit(ws, search, rounds=rounds, seed=seed,
                           probes=tuple(probes))


# -- searches the sensor drives -----------------------------------------------------------


def _write_spec(ws: Workspace, spec: SearchSpec) -> None:
    data = {"good": spec.good, "bad": spec.bad, "benchmark": spec.benchmark,
            "trigger": spec.trigger, "measured_before": list(spec.measured_before),
            **({"levels": list(spec.levels)} if spec.levels is not None else {}),
            "created_at": now_iso()}
    path = _search_path(ws, spec)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=1).encode("utf-8"))
    except OSError as exc:
        raise StoreError(f"cannot write culprit search {path}: {exc}") from exc


def _read_specs(ws: Workspace) -> tuple[SearchSpec, ...]:
    specs = []
    for path in sorted(ws.layout.culprit_searches_dir.glob("*.json")):
        try:
            d = json.loads(path.read_bytes())
            levels = d.get("levels")  # absent: a requested search, or one defined before
            if levels is not None:
                before, after = (float(x) for x in levels)
                if not 0 < before < after < float("inf"):
                    raise ValueError(f"levels {levels!r} are not a slowdown")
                levels = (before, after)
            specs.append(SearchSpec(good=str(d["good"]), bad=str(d["bad"]),
                                    benchmark=str(d["benchmark"]),
                                    trigger=str(d.get("trigger", "request")),
                                    measured_before=tuple(
                                        str(x) for x in d.get("measured_before", ())),
                                    levels=levels))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: not a valid culprit search ({exc!r})") from exc
    return tuple(specs)


def request_culprit_search(ws: Workspace, good: str, bad: str, *,
                           keyword: str | None = None) -> SearchSpec:
    """Define a search for the sensor to drive (both ends must be measured)."""
    commits = search_range(ws, good, bad)
    benchmark = choose_benchmark(read_search_history(ws), commits[0], commits[-1], keyword)
    spec = SearchSpec(good=commits[0], bad=commits[-1], benchmark=benchmark)
    search = plan_search(ws, spec, commits=commits)  # validates
    spec = replace(spec, measured_before=search.measured)
    _write_spec(ws, spec)
    return spec


def open_culprit_searches(ws: Workspace, *,
                          history: SearchHistory | None = None) -> tuple[SearchSpec, ...]:
    """Define a search for every slowdown change point (``analysis.change_points_of``)
    whose new level starts at a measured commit with unmeasured commits between it and
    the measured commit before it on its first-parent line (``_framed``), unless a search
    of that benchmark already covers it. Returns the searches defined now."""
    history = history or read_search_history(ws)
    specs = _read_specs(ws)
    known = {s.key for s in specs}
    new: list[SearchSpec] = []
    for name, (shas, values) in sorted(history.series.items()):
        cps = change_points_of(name, TIME_METRIC, shas, values, commits=shas)
        # where each level starts: the history's start, each change point, its end
        starts = [0, *(shas.index(c.run_id) for c in cps), len(shas)]
        for k, cp in enumerate(cps, start=1):
            i, start = starts[k], starts[k - 1]
            if cp.ratio < MIN_STEP_RATIO:
                continue
            framed = _framed(ws, name, cp.run_id, shas[:i], shas, specs, known)
            if framed is None:
                continue
            spec, between = framed
            if len(between) > 1 and not shows_step(history.values[name], spec.good,
                                                   spec.bad):
                framed = widen_good(ws.settings.repo_path, spec, history.values[name],
                                    shas[start:shas.index(spec.good)])
                if framed is not None:
                    wide, between = framed
                    if wide.key in known or _inside_a_search(ws, wide, shas, specs,
                                                             overlapping=True):
                        continue
                    spec = wide
            if len(between) > 1:
                measured = set(history.values[name])
                spec = replace(spec, measured_before=tuple(
                    s for s in (spec.good, *between) if s in measured),
                    levels=change_point_levels(history.values[name], shas[start:i],
                                               shas[i:starts[k + 1]]))
                _write_spec(ws, spec)
                known.add(spec.key)
                new.append(spec)
    return tuple(new)


#: Measured commits before a step tried as its good end, newest first: those of other
#: branches (a pull request measured on this machine) are passed over.
MAX_GOOD_CANDIDATES = 10


def _framed(ws: Workspace, name: str, bad: str, earlier: tuple[str, ...],
            shas: tuple[str, ...], specs: tuple[SearchSpec, ...], known: set[str]
            ) -> tuple[SearchSpec, tuple[str, ...]] | None:
    """The search of the change point whose new level starts at ``bad``: its good end is
    the newest measured commit before it (``earlier``, history order) on ``bad``'s
    first-parent line, with the commits between them; None when that search is defined
    already (or lies inside one) or no such commit is measured.

    History order is commit time over every branch, so the measured commit just before
    the step may be a pull request's, or gone from the repo (a force-push; its runs stay
    in the history): no range to search from it. It used to end there, and the step got
    no search although a main-line commit measured before it framed one."""
    tried = 0
    for good in dict.fromkeys(reversed(earlier)):
        if good == bad:
            continue
        spec = SearchSpec(good=good, bad=bad, benchmark=name, trigger="change_point")
        if spec.key in known or _inside_a_search(ws, spec, shas, specs):
            return None
        if tried == MAX_GOOD_CANDIDATES:
            break
        tried += 1
        try:
            return spec, commits_after(ws.settings.repo_path, spec.good, spec.bad)
        except PerfPipelineError as exc:
            # One such commit must not stop the sensor for every search.
            logger.info("culprit search for %s at %s: not from %s: %s (on another "
                        "branch, or no longer in the repository)", name, bad[:10],
                        good[:10], exc)
    return None


def _inside_a_search(ws: Workspace, spec: SearchSpec, shas: tuple[str, ...],
                     specs: tuple[SearchSpec, ...], *, overlapping: bool = False) -> bool:
    """Whether ``spec``'s range lies within a search of its benchmark defined before
    (``shas``: the benchmark's history, in history order), one not abandoned. That
    search's own probes frame the step more tightly as it goes (a good
    probe moves the measured commit before the step, a bad one moves the step), and
    each new frame looked like a new change point: a second search of the same step,
    with an A/B of its own. ``overlapping``: whether the two ranges share any commits
    after their good ends (a widened range, ``widen_good``, may reach over a search of
    the step it was widened to find)."""
    first = {s: i for i, s in reversed(tuple(enumerate(shas)))}
    lo, hi = first.get(spec.good), first.get(spec.bad)
    if lo is None or hi is None:
        return False
    for old in specs:
        a, b = first.get(old.good), first.get(old.bad)
        if old.benchmark != spec.benchmark or a is None or b is None:
            continue
        if (a < hi and lo < b) if overlapping else (a <= lo and hi <= b):
            try:
                result = read_culprit(culprit_path(ws, old))
            except PerfPipelineError:
                return True  # a broken result: that search waits for a person
            if result is None or result.status != "abandoned":
                return True
    return False


def _log_held(spec: SearchSpec, exc: PerfPipelineError) -> None:
    logger.warning("culprit search %s waits a tick: %s", spec.key, exc)


def culprit_actions(ws: Workspace, *, detect: bool = True,
                    on_error: Callable[[SearchSpec, PerfPipelineError], None] = _log_held,
                    ) -> tuple[CulpritAction, ...]:
    """The next action of every open search (no result file yet): a commit to measure,
    or a culprit to confirm. ``detect``: first define searches for new change points.

    A search whose plan cannot be made now (git timed out, a lock was held: anything but
    bad input) is left for the next tick and reported to ``on_error``; the others go on,
    so one search's trouble never stops every search. A search whose ends no longer make
    sense (bad input) is closed as abandoned.
    """
    actions: list[CulpritAction] = []
    history = read_search_history(ws)
    if detect:
        open_culprit_searches(ws, history=history)
    for spec in _read_specs(ws):
        try:
            # A broken result is never replaced (it may be the only record of an A/B),
            # and its search waits for a person; it must not hold up the others.
            if read_culprit(culprit_path(ws, spec)) is not None:
                continue
        except PerfPipelineError as exc:
            on_error(spec, exc)
            continue
        try:
            search = plan_search(ws, spec, history=history)
        except InvalidInputError as exc:  # e.g. the step is gone: close, not block
            write_culprit(culprit_path(ws, spec), Culprit(
                status="abandoned", benchmark=spec.benchmark, good_sha=spec.good,
                bad_sha=spec.bad, created_at=now_iso(), notes=(str(exc),)))
            continue
        except PerfPipelineError as exc:
            on_error(spec, exc)
            continue
        if search.step.probe is not None:
            actions.append(CulpritAction("measure", search.step.probe, spec))
        else:
            actions.append(CulpritAction("confirm", search.step.culprit or spec.bad, spec))
    return tuple(actions)


def search_spec(ws: Workspace, good: str, bad: str, benchmark: str) -> SearchSpec:
    """The defined search with these ends and benchmark (what a confirmation run names)."""
    for spec in _read_specs(ws):
        if (spec.good, spec.bad, spec.benchmark) == (good, bad, benchmark):
            return spec
    raise InvalidInputError(f"no culprit search {good[:10]}..{bad[:10]} for {benchmark!r}")


def confirm_search(ws: Workspace, spec: SearchSpec, sha: str, *,
                   rounds: RoundSource | None = None, seed: int | None = None) -> Culprit:
    """Confirm a search whose bisection is over; ``sha`` must be the commit it names
    (the Dagster partition the confirmation runs in)."""
    search = plan_search(ws, spec)
    if not search.step.done:
        raise InvalidInputError(f"culprit search {spec.key} is not over: measure "
                                f"{search.step.probe} first")
    if (search.step.culprit or spec.bad) != sha:
        raise InvalidInputError(f"culprit search {spec.key} names "
                                f"{search.step.culprit}, not {sha}")
    probes = tuple(s for s in search.measured if s not in spec.measured_before)
    return confirm_culprit(ws, search, rounds=rounds, seed=seed, probes=probes)
