"""One commit's replicate runs as one run: what judging, reports and baselines read.

The store keeps every run of a commit (``ingest.py``). A commit measured twice has twice
the processes, and the pooled run is made of all of them, exactly as the processes of
one run are pooled when it is read (``measure.results.merge_processes``):

- ``samples_s`` of a benchmark: the samples of every run that has it, so the time is the
  median of all processes' samples. One disturbed run moves it less than it moves its
  own median.
- other metrics: the median over the runs (for two, the mean); the latency percentiles
  (``p50_s`` ...) are recomputed from the pooled samples, as for processes.
- identity: the newest run's ``run_id``, start time, commit, environment and raw path,
  so a new replicate makes a new pooled run (a verdict or confirmation of the older
  pooled run is then stale, as it should be). ``duration_s`` is the sum.
- a benchmark only some runs have is pooled over those; a benchmark of a file that kept
  no samples keeps the newest run's summary (summaries cannot be pooled).
- hardware: only the runs on the newest run's hardware (``Environment.known_hardware``;
  runs of unknown hardware are kept). A box that keeps its ``machine_id`` when its CPU
  is replaced re-measures an unchanged HEAD after the swap: pooled with the old CPU's
  runs, the commit's time sat half-way between the two CPUs, as a run of the new one.

One run is returned unchanged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import replace

from perf_pipeline.model import BenchmarkResult, RunStatus, Samples, SuiteRun
from perf_pipeline.store.ingest import quantile

__all__ = ["pool_runs"]

#: The latency percentiles of ``measure/percentiles.py`` (same names, same method).
_PERCENTILES = (50, 90, 99)


def _percentiles(samples: Samples) -> dict[str, float]:
    ordered = samples.sorted_copy()  # a float64 array, not a list of float objects
    return {f"p{q}_s": quantile(ordered, q / 100.0) for q in _PERCENTILES}


def _pool_benchmark(group: Sequence[BenchmarkResult]) -> BenchmarkResult:
    newest = group[-1]
    if len(group) == 1:
        return newest
    samples = Samples.concat(bench.samples_s for bench in group)
    extras: dict[str, list[float]] = {}
    for bench in group:
        for key, value in bench.extra:
            extras.setdefault(key, []).append(value)
    combined = {k: float(statistics.median(v)) for k, v in extras.items()}
    if samples:
        combined.update(_percentiles(samples))
    return replace(newest, samples_s=samples, summary=() if samples else newest.summary,
                   extra=tuple(sorted(combined.items())))


def pool_runs(runs: Sequence[SuiteRun]) -> SuiteRun:
    """The successful ``runs`` of one commit (oldest first) as one run (module docstring)."""
    if not runs:
        raise ValueError("pool_runs needs at least one run")
    if any(run.status is not RunStatus.SUCCESS for run in runs):
        raise ValueError("pool_runs pools successful runs only")
    if len({run.machine_id for run in runs}) > 1:
        raise ValueError("pool_runs pools the runs of one machine only")
    newest = runs[-1]
    hardware = newest.environment.known_hardware if newest.environment else None
    if hardware is not None:
        runs = [run for run in runs if run.environment is None
                or run.environment.known_hardware in (None, hardware)]
    if len(runs) == 1:
        return newest
    by_name: dict[str, list[BenchmarkResult]] = {}
    for run in runs:
        for bench in run.benchmarks:
            by_name.setdefault(bench.name, []).append(bench)
    order = [b.name for b in newest.benchmarks]
    order += sorted(set(by_name) - set(order))
    return replace(newest, benchmarks=tuple(_pool_benchmark(by_name[name]) for name in order),
                   duration_s=math.fsum(run.duration_s for run in runs))
