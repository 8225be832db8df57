"""A run measured in several pytest processes: every file kept, samples pooled."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import load_results, measure_commit
from perf_pipeline.measure.results import merge_processes
from perf_pipeline.model import BenchmarkResult, RunStatus


def test_each_process_is_kept_and_samples_are_pooled(tiny_target, tmp_path: Path) -> None:
    settings = load_settings(repo_path=tiny_target.repo, project_subdir=".",
                             results_dir=tmp_path / "results", benchmark_paths=["tests"],
                             pytest_args=tiny_target.pytest_args, processes=2)
    run = measure_commit(settings, tiny_target.shas[0])
    assert run.status is RunStatus.SUCCESS
    run_dir = Path(run.raw_path or "")
    files = sorted(p.name for p in run_dir.glob("benchmark*.json.gz"))
    assert files == ["benchmark-2.json.gz", "benchmark.json.gz"]
    rounds = {}
    for name in files:
        for bench in json.loads(gzip.decompress((run_dir / name).read_bytes()))["benchmarks"]:
            rounds[bench["fullname"]] = rounds.get(bench["fullname"], 0) + len(
                bench["stats"]["data"])
    for bench in run.benchmarks:
        assert len(bench.samples_s) == rounds[bench.name]
        assert {"p50_s", "p99_s", "peak_rss_bytes"} <= dict(bench.extra).keys()
    assert load_results(run_dir) == run


def test_merge_pools_samples_and_takes_median_of_other_metrics() -> None:
    a = (BenchmarkResult("t", (1.0, 1.0, 1.0), extra=(("peak_rss_bytes", 100.0),)),)
    b = (BenchmarkResult("t", (2.0,), extra=(("peak_rss_bytes", 300.0),)),)
    (m,) = merge_processes(a, b)
    assert m.samples_s == (1.0, 1.0, 1.0, 2.0)
    assert m.median_s == 1.0  # one slow process barely moves the pooled median
    assert dict(m.extra)["peak_rss_bytes"] == 200.0
    with pytest.raises(InvalidInputError, match="missing from a further process"):
        merge_processes(a, (BenchmarkResult("other", (1.0,)),))


def test_merge_of_three_takes_the_median_not_a_running_mean() -> None:
    runs = [(BenchmarkResult("t", (float(i),), extra=(("peak_rss_bytes", rss),)),)
            for i, rss in enumerate((100.0, 1000.0, 110.0), start=1)]
    (m,) = merge_processes(*runs)
    assert m.samples_s == (1.0, 2.0, 3.0)
    # Folding pairwise gave median(mean(100, 1000), 110) = 330; the median of three is 110.
    assert dict(m.extra)["peak_rss_bytes"] == 110.0
    with pytest.raises(InvalidInputError, match="only some processes"):
        merge_processes(runs[0], (*runs[1], BenchmarkResult("extra", (1.0,))))
