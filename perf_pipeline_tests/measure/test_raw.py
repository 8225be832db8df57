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
    """A/B rounds keep a file that is not JSON as it is (``ab_raw.compact_round_json``), relying on
    this raising rather than writing something else."""
    with pytest.raises(ValueError):
        compact_benchmark_json(b'{"benchmarks": [')


def test_a_run_that_cannot_be_written_is_a_store_error_and_leaves_no_partial_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (or a folder made read-only) while the run's files were written
    raised a bare ``OSError``: ``perf-pipeline run`` measured for minutes, then exited 3,
    "internal error (a bug in perf_pipeline)", and left a run directory without its
    ``run.json`` behind."""
    import errno

    from perf_pipeline.errors import StoreError
    from perf_pipeline.measure import raw

    source = tmp_path / "benchmark.json"
    source.write_bytes((DATA_DIR / "pytest_benchmark_good.json").read_bytes())
    record = {"run_id": "20240101T000000Z-00000002", "suite": "benchmarks",
              "status": "success", "commit": {"sha": "d" * 40},
              "started_at": "2024-01-01T00:00:00+00:00", "benchmark_files": 1}
    real = raw.write_atomic
    calls = []

    def full_disk(path: Path, data: bytes, **kwargs: object) -> Path:
        calls.append(path.name)
        if path.name == raw.RUN_FILE:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, **kwargs)

    monkeypatch.setattr(raw, "write_atomic", full_disk)
    with pytest.raises(StoreError, match="No space left on device") as caught:
        write_raw_run(tmp_path / "raw", record, benchmark_json=source)
    assert str(tmp_path / "raw" / ("d" * 40) / record["run_id"]) in str(caught.value)
    assert calls == ["benchmark.json.gz", "run.json"]
    assert list((tmp_path / "raw" / ("d" * 40)).iterdir()) == []  # nothing half-written


def test_a_raw_dir_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    """A ``raw/`` that is a file (as a read-only or full one): an error naming it."""
    from perf_pipeline.errors import StoreError

    (tmp_path / "raw").write_text("not a folder")
    record = {"run_id": "20240101T000000Z-00000003", "suite": "benchmarks",
              "status": "failed", "commit": {"sha": "e" * 40},
              "started_at": "2024-01-01T00:00:00+00:00", "benchmark_files": 0}
    with pytest.raises(StoreError, match=r"raw run directory .*cannot create it"):
        write_raw_run(tmp_path / "raw", record)


def test_a_run_dir_whose_write_was_killed_is_removed_once_old_and_nothing_else(
        tmp_path: Path, target_repo: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL between a run's benchmark file and its run.json left raw/<sha>/<run_id>/
    for ever (readers skip it); the next measuring run removes it once it is old. A young
    one (a writer still at work) and complete runs stay."""
    import os
    import shutil

    from perf_pipeline.measure import measure_commit, session
    from perf_pipeline.measure.runner import SuiteOutcome

    settings = make_settings(target_repo, processes=1)
    record = {"run_id": "20240101T000000Z-00000001", "suite": "benchmarks",
              "status": "success", "commit": {"sha": "c" * 40},
              "started_at": "2024-01-01T00:00:00+00:00", "benchmark_files": 1}
    done = write_raw_run(settings.raw_dir, record,
                         benchmark_json=DATA_DIR / "pytest_benchmark_good.json")
    killed, young = done.parent / "20240102T000000Z-00000002", done.parent / "20240103T0Z-3"
    for folder in (killed, young):
        folder.mkdir()
        shutil.copy(done / "benchmark.json.gz", folder)
    for path in (done, *done.iterdir(), killed, *killed.iterdir()):
        os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)

    def fake_run(settings, sha, suite, json_path, extra_args, **_):
        shutil.copy(DATA_DIR / "pytest_benchmark_good.json", json_path)
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(session, "run_in_worktree", fake_run)
    measure_commit(settings, "HEAD")
    assert not killed.exists()
    assert young.is_dir() and (done / "run.json").is_file()
