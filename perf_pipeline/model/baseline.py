"""The baseline a commit is judged against (performance_baseline.json)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model.environment import Environment
from perf_pipeline.model.finite import check_finite
from perf_pipeline.model.schema_version import SCHEMA_VERSION

__all__ = ["BASELINE_POLICIES", "Baseline", "BaselineEntry"]


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    """What the comparison needs about one benchmark and metric of the baseline.

    ``run_values`` holds one summary per baseline run (the run's median for time), oldest
    first: the run-to-run spread that within-run samples cannot show. ``runs`` says which
    of the baseline's ``source_run_ids`` each value came from, so a benchmark skipped in
    one run is lined up with the right runs' machine factors (empty, as in files written
    before it: the newest ``len(run_values)`` runs). ``samples`` are the raw samples of
    the most recent baseline run, for within-run tests and plots.
    """

    name: str
    metric: str
    run_values: tuple[float, ...]
    samples: tuple[float, ...] = ()
    runs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_finite(self.run_values, f"baseline {self.name!r} {self.metric}")
        check_finite(self.samples, f"baseline {self.name!r} {self.metric}")
        if self.runs and (len(self.runs) != len(self.run_values) or self.runs[0] < 0
                          or any(b <= a for a, b in itertools.pairwise(self.runs))):
            raise InvalidInputError(
                f"baseline {self.name!r} {self.metric}: `runs` must be increasing run "
                f"indexes, one per value ({len(self.run_values)}), not {self.runs!r}")


#: rolling: pooled from the last N main-branch runs; pinned: a named run; ab: the base
#: side of an interleaved A/B run (reports only, never the stored baseline file).
BASELINE_POLICIES = ("rolling", "pinned", "ab")


@dataclass(frozen=True, slots=True)
class Baseline:
    """The reference a commit is judged against, as stored in performance_baseline.json."""

    policy: str  # one of BASELINE_POLICIES
    created_at: str
    source_run_ids: tuple[str, ...]
    source_commits: tuple[str, ...]
    entries: tuple[BaselineEntry, ...]
    environment: Environment | None = None
    schema_version: int = SCHEMA_VERSION
    previous: tuple[str, ...] = field(default=())  # created_at of earlier baselines
    #: The machine its runs were measured on; None for baselines of unknown or mixed
    #: machines (older files). A run of another machine is never judged against it.
    machine_id: str | None = None
    #: What a report should say about how the runs were chosen (runs of other hardware
    #: left out: ``pipeline/hardware_mix.py``). Not written to the file: a snapshot read
    #: back is judged as it stands.
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.policy not in BASELINE_POLICIES:
            raise InvalidInputError(
                f"baseline policy {self.policy!r} is not one of {BASELINE_POLICIES}")
        if self.schema_version != SCHEMA_VERSION:
            raise InvalidInputError(
                f"baseline schema_version {self.schema_version} is not supported "
                f"(this perf_pipeline reads {SCHEMA_VERSION})")
        for e in self.entries:
            if e.runs and e.runs[-1] >= len(self.source_run_ids):
                raise InvalidInputError(
                    f"baseline {e.name!r} {e.metric}: run index {e.runs[-1]} is beyond its "
                    f"{len(self.source_run_ids)} source runs")

    def entry(self, name: str, metric: str) -> BaselineEntry | None:
        for e in self.entries:
            if e.name == name and e.metric == metric:
                return e
        return None
