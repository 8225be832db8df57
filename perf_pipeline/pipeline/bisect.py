"""Culprit search: bisect the unmeasured commits behind a step, confirm the one it names.

A change point between two measured commits with unmeasured commits in between says the
level moved somewhere in that range. The search (``analysis.plan_bisect``) measures one
commit at a time — an ordinary measurement of that commit, recorded in the history like
any other — until one commit is left, then confirms it by the interleaved A/B of that
commit against its parent (the gate's confirmation machinery: ``measured_rounds`` and
``analysis.confirm_flagged``) and writes ``culprits/<key>.json`` with its subject, author
and the confirmed ratio.

The state of a search is the history itself: which commits are measured, and their
values. A search is therefore a pure function of the store plus its definition
(``culprits/searches/<key>.json``: good, bad, benchmark), which is what lets a Dagster
sensor drive it one probe per tick (``culprit_actions``) and the CLI drive it in a loop
(``find_culprit``) with the same result. A search is defined when the sensor sees a new
change point framed by measured commits with unmeasured ones between
(``open_culprit_searches``), or on request (``request_culprit_search``: e.g. for a
history too short for change points).

Searches look for slowdowns: the new level is higher (slower or bigger) than the old.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from perf_pipeline.analysis import (
    change_points_of,
    confirm_flagged,
    factor_free_series,
    plan_bisect,
)
from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import (
    InvalidInputError,
    MeasurementError,
    PerfPipelineError,
    StoreError,
)
from perf_pipeline.measure import local_machine_id, measure_commit
from perf_pipeline.measure.ab import ABSelection
from perf_pipeline.measure.git import (
    commit_info,
    commits_since,
    first_parent,
    is_ancestor,
    resolve_commit,
)
from perf_pipeline.model import TIME_METRIC, BisectStep, Culprit, MetricSeries, RunStatus, Verdict
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.pipeline.confirm import CountedRounds, RoundSource, measured_rounds
from perf_pipeline.store import HistoryStore, list_culprits, read_culprit, write_culprit
from perf_pipeline.workspace import Workspace

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

#: Steps smaller than this (new level / old level) are not worth a search: the noise of
#: one measurement is larger, so probes would be classified at random.
MIN_STEP_RATIO = 1.02
#: Benchmarks measured alongside the culprit's in its A/B, so each round's suite-wide
#: factor can be removed (as the gate's confirmation does).
N_CONTROLS = 4
#: A search that has not converged after this many probes is stopped (a bisection over
#: a million commits needs 20).
MAX_PROBES = 40


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """What a search looks for: the commit range (good, bad) and the benchmark."""

    good: str
    bad: str
    benchmark: str
    trigger: str = "request"  # "change_point" or "request"
    #: Commits of the range already measured when the search was defined (not part of
    #: the key): the rest of what is measured in the range, the search measured.
    measured_before: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.benchmark.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.good[:12]}-{self.bad[:12]}-{digest[:10]}"


@dataclass(frozen=True, slots=True)
class CulpritSearch:
    """A search and where it stands: the commits (good first), the two levels, the step."""

    spec: SearchSpec
    commits: tuple[str, ...]
    before: float
    after: float
    step: BisectStep
    measured: tuple[str, ...]  # commits of the range with a successful run

    @property
    def step_ratio(self) -> float:
        return self.after / self.before


@dataclass(frozen=True, slots=True)
class CulpritAction:
    """What the sensor asks for next: measure ``sha`` (a probe), or confirm it (the A/B
    against its parent)."""

    kind: str  # "measure" | "confirm"
    sha: str
    spec: SearchSpec


def culprit_path(ws: Workspace, spec: SearchSpec) -> Path:
    return ws.layout.culprit_path(spec.key)


def _search_path(ws: Workspace, spec: SearchSpec) -> Path:
    return ws.layout.culprit_search_path(spec.key)


def read_culprits(ws: Workspace) -> tuple[Culprit, ...]:
    """Every finished search's result, oldest first."""
    return list_culprits(ws.layout.culprits_dir)


# -- reading the history ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _History:
    """Per benchmark, the successful time values of each commit (replicate runs kept);
    the commits whose runs all failed, and those with a successful run; and each series
    in history order."""

    values: Mapping[str, Mapping[str, tuple[float, ...]]]
    failed: frozenset[str]
    series: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]]  # name -> (shas, values)
    #: As ``values``, as measured (the suite-wide factor left in): for messages only.
    measured: Mapping[str, Mapping[str, tuple[float, ...]]] = dataclasses.field(
        default_factory=dict)
    succeeded: frozenset[str] = frozenset()

    def skipped(self, benchmark: str, commits: Iterable[str]) -> frozenset[str]:
        """The ``commits`` a search on ``benchmark`` cannot measure: every run failed,
        or a run succeeded without a usable value of the benchmark (deselected, skipped
        or renamed there). Measuring such a commit again would give the same answer, so
        the search passes it over as ``git bisect skip`` does instead of asking for it
        once more."""
        has_value = self.values.get(benchmark, {})
        return frozenset(s for s in commits
                         if s in self.failed or (s in self.succeeded and s not in has_value))


def _read_history(ws: Workspace) -> _History:
    """This machine's history: a search measures its probes and its A/B here, so it
    reads only what this machine measured (runs of two machines are never compared). A
    machine without runs here measures the range's ends first. A history that records
    no machines at all is read whole."""
    store: HistoryStore = ws.store
    machine: str | None = local_machine_id(ws.settings)
    if not store.machines(suite="benchmarks"):
        machine = None
    sha_of = {r.run_id: r.commit.sha for r in store.list_runs(suite="benchmarks",
                                                              machine_id=machine)
              if r.commit is not None}
    ok = {r.commit.sha for r in store.list_runs(suite="benchmarks", status=RunStatus.SUCCESS,
                                                machine_id=machine)
          if r.commit is not None}
    failed = frozenset(s for s in sha_of.values() if s not in ok)

    def pairs(s: MetricSeries) -> list[tuple[str, float]]:
        """(commit, value) of the series' usable runs, history order."""
        return [(sha_of[r], v) for r, v in zip(s.run_ids, s.values, strict=True)
                if r in sha_of and math.isfinite(v) and v > 0]

    def per_commit(all_series: Iterable[MetricSeries]
                   ) -> dict[str, dict[str, tuple[float, ...]]]:
        out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for s in all_series:
            for sha, v in pairs(s):
                out[s.name][sha].append(v)
        return {n: {sha: tuple(v) for sha, v in d.items()} for n, d in out.items()}

    raw = store.series(suite="benchmarks", metrics=(TIME_METRIC,), machine_id=machine)
    # Each run without its suite-wide factor: a probe runs at another moment than the
    # commits that framed the search, and the machine's mood must not decide its side.
    free = factor_free_series(raw)
    series = {s.name: (tuple(p[0] for p in pairs(s)), tuple(p[1] for p in pairs(s)))
              for s in free}
    return _History(values=per_commit(free), failed=failed, series=series,
                    measured=per_commit(raw), succeeded=frozenset(ok))


def _range(ws: Workspace, good: str, bad: str) -> tuple[str, ...]:
    """``good`` and the first-parent commits after it up to ``bad``, oldest first."""
    repo = ws.settings.repo_path
    good, bad = resolve_commit(repo, good), resolve_commit(repo, bad)
    if good == bad:
        raise InvalidInputError(f"GOOD and BAD are the same commit ({good[:10]}): nothing "
                                "to bisect")
    return (good, *_commits_after(repo, good, bad))


def _commits_after(repo: Path, good: str, bad: str) -> tuple[str, ...]:
    """The first-parent commits after ``good`` up to ``bad`` (full SHAs, not equal),
    oldest first.

    ``good`` must be on ``bad``'s first-parent chain, not merely an ancestor: bisection
    assumes every commit of the range contains ``good`` (so "good" can only turn "bad"
    once) and that each commit's predecessor in the range is its parent. A GOOD on a
    merged side branch breaks both: the main-line commits before the merge are listed
    although they do not contain it. Then the first commit listed is not a child of
    ``good``, which is how it is caught.
    """
    if not is_ancestor(repo, good, bad):
        raise InvalidInputError(f"good commit {good[:10]} is not an ancestor of the bad "
                                f"commit {bad[:10]}: nothing to bisect")
    between = commits_since(repo, good, bad)
    if not between or first_parent(repo, between[0]) != good:
        raise InvalidInputError(
            f"good commit {good[:10]} is not on the first-parent chain of the bad commit "
            f"{bad[:10]} (it came in by a merge): the commits between them would not all "
            f"contain it; choose a good commit that `git log --first-parent {bad[:10]}` "
            "lists")
    return between


def _choose_benchmark(history: _History, good: str, bad: str, keyword: str | None) -> str:
    """The benchmark (matching ``keyword`` as a substring) that slowed most from ``good``
    to ``bad``."""
    steps = {}
    for name, per_commit in history.values.items():
        if keyword is not None and keyword not in name:
            continue
        if per_commit.get(good) and per_commit.get(bad):
            steps[name] = (statistics.median(per_commit[bad])
                           / statistics.median(per_commit[good]))
    if not steps:
        what = f"matching {keyword!r} " if keyword is not None else ""
        raise InvalidInputError(f"no benchmark {what}was measured at both {good[:10]} and "
                                f"{bad[:10]}")
    return max(steps, key=lambda n: (steps[n], n))


def plan_search(ws: Workspace, spec: SearchSpec, *,
                commits: tuple[str, ...] | None = None,
                history: _History | None = None) -> CulpritSearch:
    """Where ``spec``'s search stands, from the history (``history``: read once by a
    caller planning several searches). Raises ``InvalidInputError`` when the range has
    no slowdown of at least ``MIN_STEP_RATIO`` on the benchmark."""
    commits = commits or _range(ws, spec.good, spec.bad)
    history = history or _read_history(ws)
    per_commit = history.values.get(spec.benchmark, {})
    for end in (spec.good, spec.bad):
        if not per_commit.get(end):
            raise InvalidInputError(f"benchmark {spec.benchmark!r} has no successful "
                                    f"measurement at {end[:10]}")
    before = statistics.median(per_commit[spec.good])
    after = statistics.median(per_commit[spec.bad])
    if after / before < MIN_STEP_RATIO:
        as_measured = history.measured.get(spec.benchmark, {})
        shown = ""
        if as_measured.get(spec.good) and as_measured.get(spec.bad):
            raw = (statistics.median(as_measured[spec.bad])
                   / statistics.median(as_measured[spec.good]))
            if raw >= MIN_STEP_RATIO:  # slower only with the suite-wide factor left in
                shown = (f"; as measured x{raw:.3f}, but the other benchmarks slowed alike, "
                         "and a change of the whole suite is divided out with the "
                         "machine's load: compare the commits with `perf-pipeline ab`")
        raise InvalidInputError(
            f"benchmark {spec.benchmark!r} is not slower at {spec.bad[:10]} than at "
            f"{spec.good[:10]} once each run's suite-wide factor is removed "
            f"(x{after / before:.3f}{shown}; a search needs x{MIN_STEP_RATIO:g} or more)")
    in_range = set(commits)
    values = {sha: v for sha, v in per_commit.items() if sha in in_range}
    step = plan_bisect(commits, values, before=before, after=after,
                       skipped=history.skipped(spec.benchmark, in_range))
    return CulpritSearch(spec=spec, commits=commits, before=before, after=after, step=step,
                         measured=tuple(s for s in commits if s in values))


# -- confirming ---------------------------------------------------------------------------


def _controls(history: _History, benchmark: str, n: int = N_CONTROLS, *,
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
    _earlier_result(ws, spec)  # a broken one is refused before the A/B, not after it
    base = dict(benchmark=spec.benchmark, good_sha=spec.good, bad_sha=spec.bad,
                created_at=now_iso(), step_ratio=search.step_ratio, probes=probes,
                suspects=step.suspects)
    if step.culprit is None:
        culprit = Culprit(status="ambiguous", **base, notes=(  # type: ignore[arg-type]
            f"{len(step.suspects)} suspects left: the commits between them could not be "
            "measured (their suite failed, or ran without this benchmark)",
            *_outlier_notes(step)))
        return _record(ws, spec, culprit)
    sha = step.culprit
    parent = _parent(ws, sha)
    info = commit_info(settings.repo_path, sha)
    threshold = min(settings.threshold, math.sqrt(search.step_ratio))
    # the culprit and its parent when measured, else the good end of the step: a
    # control must exist on both sides of the A/B
    controls = _controls(_read_history(ws), spec.benchmark,
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
    return _record(ws, spec, replace(culprit, notes=(*culprit.notes, *_outlier_notes(step))))


def _outlier_notes(step: BisectStep) -> tuple[str, ...]:
    """Says which measured commits the bisection overruled, so a reader can see that the
    evidence was not unanimous (and re-measure them) instead of finding out later."""
    if not step.outliers:
        return ()
    return (f"{len(step.outliers)} measured commit(s) classified against the named "
            f"boundary, taken for noisy measurements (more verdicts disagree with "
            f"them): {', '.join(s[:10] for s in step.outliers)}",)


#: Results that carry an A/B's evidence.
_AB_STATUSES = ("confirmed", "not_confirmed")


def _earlier_result(ws: Workspace, spec: SearchSpec) -> Culprit | None:
    """The search's earlier result; a broken file is an error that says what to do (it
    is never overwritten: it may be the only record of an A/B)."""
    path = culprit_path(ws, spec)
    try:
        return read_culprit(path)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc}; move it away to search this range again") from exc


def _record(ws: Workspace, spec: SearchSpec, culprit: Culprit) -> Culprit:
    """Write ``culprit`` as the search's result, keeping what an earlier run of the same
    search knew: its probes (a re-run that measured nothing new still names them), and
    its A/B when this run ran none on the same commit (``--no-confirm`` must not turn a
    confirmed culprit into an unconfirmed one). A new A/B replaces an old one."""
    path = culprit_path(ws, spec)
    old = _earlier_result(ws, spec)
    if old is not None:
        probes = tuple(dict.fromkeys((*old.probes, *culprit.probes)))
        if (culprit.status not in _AB_STATUSES and old.status in _AB_STATUSES
                and old.sha == culprit.sha):
            culprit = replace(old, probes=probes, notes=(
                *old.notes, f"searched again at {culprit.created_at} without an A/B: the "
                            "same commit; this A/B kept"))
        else:
            culprit = replace(culprit, probes=probes)
    write_culprit(path, culprit)
    return culprit


def _parent(ws: Workspace, sha: str) -> str:
    """The commit the culprit ``sha`` changed: its first parent, from git. Not the
    search's last good commit, which is that parent only when the range is the chain of
    first parents it should be."""
    parent = first_parent(ws.settings.repo_path, sha)
    if parent is None:
        raise InvalidInputError(f"culprit {sha[:10]} is a root commit: no parent to A/B it "
                                "against")
    return parent


def _unconfirmed(ws: Workspace, search: CulpritSearch, probes: tuple[str, ...]
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
    commits = _range(ws, good, bad)
    good, bad = commits[0], commits[-1]
    measure = probe or _measure_probe(ws)
    probes: list[str] = []
    history = _read_history(ws)
    for end in (good, bad):
        if end not in {s for v in history.values.values() for s in v}:
            measure(end)
            probes.append(end)
    benchmark = _choose_benchmark(_read_history(ws), good, bad, keyword)
    spec = SearchSpec(good=good, bad=bad, benchmark=benchmark, trigger="request")
    _earlier_result(ws, spec)  # a broken one is refused now, not after the probes
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
        return _record(ws, spec, _unconfirmed(ws, search, tuple(probes)))
    return confirm_culprit(ws, search, rounds=rounds, seed=seed,
                           probes=tuple(probes))


# -- searches the sensor drives -----------------------------------------------------------


def _write_spec(ws: Workspace, spec: SearchSpec) -> None:
    data = {"good": spec.good, "bad": spec.bad, "benchmark": spec.benchmark,
            "trigger": spec.trigger, "measured_before": list(spec.measured_before),
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
            specs.append(SearchSpec(good=str(d["good"]), bad=str(d["bad"]),
                                    benchmark=str(d["benchmark"]),
                                    trigger=str(d.get("trigger", "request")),
                                    measured_before=tuple(
                                        str(x) for x in d.get("measured_before", ()))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: not a valid culprit search ({exc!r})") from exc
    return tuple(specs)


def request_culprit_search(ws: Workspace, good: str, bad: str, *,
                           keyword: str | None = None) -> SearchSpec:
    """Define a search for the sensor to drive (both ends must be measured)."""
    commits = _range(ws, good, bad)
    benchmark = _choose_benchmark(_read_history(ws), commits[0], commits[-1], keyword)
    spec = SearchSpec(good=commits[0], bad=commits[-1], benchmark=benchmark)
    search = plan_search(ws, spec, commits=commits)  # validates
    spec = replace(spec, measured_before=search.measured)
    _write_spec(ws, spec)
    return spec


def open_culprit_searches(ws: Workspace, *,
                          history: _History | None = None) -> tuple[SearchSpec, ...]:
    """Define a search for every slowdown change point (``analysis.change_points_of``)
    whose new level starts at a measured commit with unmeasured commits between it and
    the measured commit before it. Returns the searches defined now."""
    history = history or _read_history(ws)
    known = {s.key for s in _read_specs(ws)}
    new: list[SearchSpec] = []
    for name, (shas, values) in sorted(history.series.items()):
        for cp in change_points_of(name, TIME_METRIC, shas, values, commits=shas):
            if cp.ratio < MIN_STEP_RATIO:
                continue
            i = shas.index(cp.run_id)
            earlier = [s for s in shas[:i] if s != cp.run_id]
            if not earlier:
                continue
            spec = SearchSpec(good=earlier[-1], bad=cp.run_id, benchmark=name,
                              trigger="change_point")
            if spec.key in known:
                continue
            # The measured commit before the step may be on another branch, or gone
            # from the repo (a force-push; its runs stay in the history): no range to
            # search. One such change point must not stop the sensor for every search.
            try:
                between = _commits_after(ws.settings.repo_path, spec.good, spec.bad)
            except PerfPipelineError as exc:
                logger.info("no culprit search for %s at %s: %s (the measured commit "
                            "before it is on another branch, or no longer in the "
                            "repository)", name, spec.bad[:10], exc)
                continue
            if len(between) > 1:
                measured = set(history.values[name])
                spec = replace(spec, measured_before=tuple(
                    s for s in (spec.good, *between) if s in measured))
                _write_spec(ws, spec)
                known.add(spec.key)
                new.append(spec)
    return tuple(new)


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
    history = _read_history(ws)
    if detect:
        open_culprit_searches(ws, history=history)
    for spec in _read_specs(ws):
        if read_culprit(culprit_path(ws, spec)) is not None:
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
