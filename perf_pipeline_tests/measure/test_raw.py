"""Raw run directories: what ``write_raw_run`` keeps of pytest-benchmark's files."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from perf_pipeline.measure import load_results
from perf_pipeline.measure.raw import compact_benchmark_json, write_raw_run
from perf_pipeline.model import RunStatus
from perf_pipeline_tests.measure.conftest import DATA_DIR


def test_nan_and_infinity_a_test_put_in_extra_info_are_kept_and_the_run_loads(
        tmp_path: Path) -> None:
    """pytest-benchmark writes NaN where a test's ``extra_info`` holds one (an empty
    cache's hit rate); the loader accepts such a file, but compacting it refused it
    (``allow_nan=False``): the run crashed after it was measured, with nothing kept."""
    doc = json.loads((DATA_DIR / "pytest_benchmark_good.json").read_text())
    doc["benchmarks"][0]["extra_info"] = {"hit_rate": math.nan, "ceiling": math.inf}
    source = tmp_path / "benchmark.json"
    source.write_text(json.dumps(doc))  # as pytest-benchmark writes it: NaN, Infinity
    record = {"run_id": "20240101T000000Z-00000001", "suite": "benchmarks",
              "status": "success", "commit": {"sha": "c" * 40},
              "started_at": "2024-01-01T00:00:00+00:00", "benchmark_files": 1}
    run_dir = write_raw_run(tmp_path / "raw", record, benchmark_json=source)
    run = load_results(run_dir)
    assert run.status is RunStatus.SUCCESS
    assert {b.name for b in run.benchmarks} == {b["fullname"] for b in doc["benchmarks"]}
    kept = json.loads(gzip.decompress((run_dir / "benchmark.json.gz").read_bytes()))
    extra = kept["benchmarks"][0]["extra_info"]
    assert math.isnan(extra["hit_rate"]) and extra["ceiling"] == math.inf
    data = kept["benchmarks"][0]["stats"]["data"]
    assert data == sorted(data)  # still compacted: samples sorted


def test_compacting_keeps_text_that_is_not_json_for_the_loader_to_name() -> None:
    """A/B rounds keep a file that is not JSON as it is (``ab._compacted``), relying on
    this raising rather than writing something else."""
    with pytest.raises(ValueError):
        compact_benchmark_json(b'{"benchmarks": [')
