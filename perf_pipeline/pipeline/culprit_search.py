"""What a culprit search is and where it stands: its definition, its range, its plan.

A search is a pure function of the history plus its definition (good, bad, benchmark):
``plan_search`` reads both and says which commit to measure next, or which commit is the
culprit (``analysis.plan_bisect``). Nothing here measures or writes, so the CLI's loop
and the sensor's one probe per tick plan the same search the same way.

Searches look for slowdowns: the new level is higher (slower or bigger) than the old.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from perf_pipeline.analysis import plan_bisect
from perf_pipeline.errors import InvalidInputError, PerfPipelineError
from perf_pipeline.measure.git import commits_since, first_parent, is_ancestor, resolve_commit
from perf_pipeline.model import BisectStep
from perf_pipeline.pipeline.culprit_history import SearchHistory, read_search_history
from perf_pipeline.workspace import Workspace

__all__ = [
    "MIN_STEP_RATIO",
    "CulpritAction",
    "CulpritSearch",
    "SearchSpec",
    "change_point_levels",
    "choose_benchmark",
    "commits_after",
    "plan_search",
    "search_range",
    "shows_step",
    "widen_good",
]

#: Steps smaller than this (new level / old level) are not worth a search: the noise of
#: one measurement is larger, so probes would be classified at random.
MIN_STEP_RATIO = 1.02


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
    #: A change point's search: its old and its new level (not part of the key), what
    #: probes are classified against (``change_point_levels``); None: the two ends' values.
    levels: tuple[float, float] | None = None

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



def search_range(ws: Workspace, good: str, bad: str) -> tuple[str, ...]:
    """``good`` and the first-parent commits after it up to ``bad``, oldest first."""
    repo = ws.settings.repo_path
    good, bad = resolve_commit(repo, good), resolve_commit(repo, bad)
    if good == bad:
        raise InvalidInputError(f"GOOD and BAD are the same commit ({good[:10]}): nothing "
                                "to bisect")
    return (good, *commits_after(repo, good, bad))


def commits_after(repo: Path, good: str, bad: str) -> tuple[str, ...]:
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


def choose_benchmark(history: SearchHistory, good: str, bad: str, keyword: str | None) -> str:
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
                history: SearchHistory | None = None) -> CulpritSearch:
    """Where ``spec``'s search stands, from the history (``history``: read once by a
    caller planning several searches). Raises ``InvalidInputError`` when the range has
    no slowdown of at least ``MIN_STEP_RATIO`` on the benchmark; once the search has
    measured a commit of its own, when its bad end is no longer slower at all.

    The values are factor-free: each run divided by its suite-wide factor, which is
    estimated against every benchmark's usual level over the whole history. Each new run
    (the search's own probes among them) moves those levels a little, and with them the
    two ends' values: a search started at x1.021 read x1.0199 after its first probe and
    was abandoned half done, its probe wasted. The threshold is for starting a search."""
    commits = commits or search_range(ws, spec.good, spec.bad)
    history = history or read_search_history(ws)
    per_commit = history.values.get(spec.benchmark, {})
    for end in (spec.good, spec.bad):
        if not per_commit.get(end):
            raise InvalidInputError(f"benchmark {spec.benchmark!r} has no successful "
                                    f"measurement at {end[:10]}")
    before = statistics.median(per_commit[spec.good])
    after = statistics.median(per_commit[spec.bad])
    started = any(s in per_commit and s not in spec.measured_before for s in commits[1:-1])
    if after <= before or (not started and after / before < MIN_STEP_RATIO):
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
    if spec.levels is not None:
        before, after = spec.levels
    in_range = set(commits)
    values = {sha: v for sha, v in per_commit.items() if sha in in_range}
    step = plan_bisect(commits, values, before=before, after=after,
                       skipped=history.skipped(spec.benchmark, in_range))
    return CulpritSearch(spec=spec, commits=commits, before=before, after=after, step=step,
                         measured=tuple(s for s in commits if s in values))


#: How far back a change point's search may move its good end when the two commits that
#: frame the change point show no step: measured commits on the bad end's first-parent
#: line. A change point is placed within 2 measured commits of the step; 2 more are margin.
MAX_WIDEN = 4


def shows_step(per_commit: Mapping[str, Sequence[float]], good: str, bad: str) -> bool:
    """Whether ``bad`` is at least ``MIN_STEP_RATIO`` slower than ``good`` (medians of
    their values): the test ``plan_search`` applies to a search's two ends."""
    if not per_commit.get(good) or not per_commit.get(bad):
        return False
    return (statistics.median(per_commit[bad]) / statistics.median(per_commit[good])
            >= MIN_STEP_RATIO)


def widen_good(repo: Path, spec: SearchSpec, per_commit: Mapping[str, Sequence[float]],
               earlier: Sequence[str]) -> tuple[SearchSpec, tuple[str, ...]] | None:
    """``spec`` with its good end moved back to a measured commit that shows the step,
    with the commits after it up to the bad end; None when none does.

    A change point is placed up to two measured commits late: then its good end (the
    measured commit before it) is already on the new level, the two ends show no step,
    and the search was abandoned at once ("not slower"). The candidates are the measured
    commits before the good end (``earlier``: the benchmark's history, in history order,
    from the previous change point of the benchmark on, so a good end never reaches into
    an older level), newest first, those on the bad end's first-parent line only, at most
    ``MAX_WIDEN`` of them. Of those that show the step, the oldest is taken: the measured
    commits between it and the bad end are then classified like probes, and the step is
    placed where most of them agree, instead of trusting the one nearest candidate whose
    value happened to look fast. Nothing is measured here.
    """
    found: tuple[SearchSpec, tuple[str, ...]] | None = None
    tried = looked = 0
    for good in dict.fromkeys(reversed(tuple(earlier))):
        if good in (spec.good, spec.bad):
            continue
        if tried == MAX_WIDEN or looked == 3 * MAX_WIDEN:
            break
        looked += 1
        try:
            between = commits_after(repo, good, spec.bad)
        except PerfPipelineError:
            continue  # another branch's commit, or one gone from the repo
        if spec.good not in between:
            continue  # after the good end in history order only
        tried += 1
        if shows_step(per_commit, good, spec.bad):
            found = (replace(spec, good=good), between)
    return found


def change_point_levels(per_commit: Mapping[str, Sequence[float]], old: Sequence[str],
                        new: Sequence[str]) -> tuple[float, float] | None:
    """The old and the new level of a change point: the medians of its measured commits
    (``old``: from the previous change point up to it; ``new``: from it up to the next),
    each commit counted once by the median of its values. None when either side has no
    value, or the new level is not the slower.

    A search classifies its probes against the midpoint of two levels. Taken from its
    two ends, that midpoint moves with their noise, and with a single run per commit a
    slow probe below a noisy-high bad end (or a fast one above a noisy-low good end) is
    put on the wrong side: on synthetic x1.06 histories (2 % noise per run, every other
    commit measured) 38 of 103 searches named a wrong commit. The change point's levels
    rest on every commit of the two levels: 30 of 103."""
    def level(shas: Sequence[str]) -> float | None:
        meds = [statistics.median(per_commit[s]) for s in dict.fromkeys(shas)
                if per_commit.get(s)]
        return statistics.median(meds) if meds else None

    lo, hi = level(old), level(new)
    if lo is None or hi is None or not 0 < lo < hi:
        return None
    return lo, hi
