"""The history as a culprit search reads it: per benchmark and commit, the time values.

A search's state is the history itself (which commits are measured, and their values),
so every step of it starts here. It reads only this machine's runs of the hardware it
has now, because a search measures its probes and its A/B here and runs of two machines
(or, under one machine id kept across a CPU swap, of two hardware) are never compared;
and it divides each run's suite-wide factor out, because a probe runs at another moment
than the commits that framed the search and the machine's mood must not decide which
side of the step it falls on.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perf_pipeline.analysis import factor_free_series
from perf_pipeline.measure import environment_fingerprint, local_machine_id
from perf_pipeline.model import TIME_METRIC, MetricSeries, RunStatus
from perf_pipeline.pipeline.hardware_mix import series_of_runs
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace

__all__ = ["SearchHistory", "read_search_history"]


@dataclass(frozen=True, slots=True)
class SearchHistory:
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


def read_search_history(ws: Workspace) -> SearchHistory:
    """This machine's history: a search measures its probes and its A/B here, so it
    reads only what this machine measured (runs of two machines are never compared). A
    machine without runs here measures the range's ends first. A history that records
    no machines at all is read whole."""
    store: HistoryStore = ws.store
    machine: str | None = local_machine_id(ws.settings)
    if not store.machines(suite="benchmarks"):
        machine = None
    runs = store.list_runs(suite="benchmarks", machine_id=machine)
    # Only the hardware the probes are measured on (and records that name none): under a
    # machine id kept across a CPU swap, a search framed by the old CPU's runs classified
    # every probe of the new one as "after the step" (pipeline/hardware_mix.py).
    here = environment_fingerprint(packages=()).known_hardware
    if here is not None and any(r.hardware not in (None, here) for r in runs):
        runs = tuple(r for r in runs if r.hardware in (None, here))
    sha_of = {r.run_id: r.commit.sha for r in runs if r.commit is not None}
    ok = {r.commit.sha for r in runs
          if r.commit is not None and r.status is RunStatus.SUCCESS}
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

    raw = series_of_runs(store.series(suite="benchmarks", metrics=(TIME_METRIC,),
                                      machine_id=machine), sha_of)
    # Each run without its suite-wide factor: a probe runs at another moment than the
    # commits that framed the search, and the machine's mood must not decide its side.
    free = factor_free_series(raw)
    series = {s.name: (tuple(p[0] for p in pairs(s)), tuple(p[1] for p in pairs(s)))
              for s in free}
    return SearchHistory(values=per_commit(free), failed=failed, series=series,
                    measured=per_commit(raw), succeeded=frozenset(ok))

