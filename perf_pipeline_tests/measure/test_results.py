from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import load_results, write_raw_run
from perf_pipeline.model import METRICS, RunStatus
from perf_pipeline_tests.measure.conftest import DATA_DIR

GOOD = DATA_DIR / "pytest_benchmark_good.json"
SHA = "a" * 40


def test_loads_real_plugin_output_with_samples_and_metrics() -> None:
    run = load_results(GOOD)
    assert run.status is RunStatus.SUCCESS
    assert [b.name for b in run.benchmarks] == [
        "test_fx.py::test_fib", "test_fx.py::test_sort[100]", "test_fx.py::test_sort[1000]",
        "test_fx.py::test_alloc"]
    fib = run.benchmark("test_fx.py::test_fib")
    assert fib is not None and len(fib.samples_s) == 8 and fib.iterations == 2
    extra = dict(fib.extra)
    assert set(extra) <= set(METRICS)
    for name in ("p50_s", "p90_s", "p99_s", "cpu_user_s", "tracemalloc_peak_bytes",
                 "peak_rss_bytes", "gc_collections", "io_write_bytes"):
        assert name in extra
    assert math.isclose(extra["p50_s"], fib.median_s)
    assert dict(fib.summary)["rounds"] == 8
    alloc = dict(run.benchmark("test_fx.py::test_alloc").extra)  # type: ignore[union-attr]
    assert alloc["tracemalloc_peak_bytes"] >= 1_000_000
    sort = run.benchmark("test_fx.py::test_sort[100]")
    assert sort is not None and sort.params == (("size", "100"),)
    assert run.environment is not None and run.environment.cpu_count >= 1
    doc = json.loads(GOOD.read_text())
    assert run.commit is not None and run.commit.sha == doc["commit_info"]["id"]
    assert run.run_id.startswith("file-")


def test_same_file_gives_same_run_id(tmp_path: Path) -> None:
    copy = tmp_path / "copy.json"
    copy.write_bytes(GOOD.read_bytes())
    assert load_results(copy).run_id == load_results(GOOD).run_id


def test_foreign_autosave_without_samples_uses_summary_and_commit_info() -> None:
    run = load_results(DATA_DIR / "pytest_benchmark_autosave.json")
    fib = run.benchmark("test_fx.py::test_fib")
    assert fib is not None and fib.samples_s == ()
    summary = dict(fib.summary)
    assert fib.metric("time_s") == summary["median_s"] > 0
    assert {"mean_s", "stddev_s", "q1_s", "q3_s", "rounds"} <= set(summary)
    assert run.commit is not None and run.commit.sha == "0b8ff481d0a682aa5ae7e5b786d90282c8d51a55"
    assert run.commit.branch == "master"
    assert run.environment is not None and run.environment.python_implementation == "CPython"


def test_hostile_benchmark_name_is_kept_verbatim_as_data() -> None:
    run = load_results(DATA_DIR / "pytest_benchmark_hostile_name.json")
    assert "<img src=x onerror=alert(1)>" in [b.name for b in run.benchmarks]


def test_truncated_file_is_rejected_naming_the_path() -> None:
    with pytest.raises(InvalidInputError, match=r"truncated\.json.*not valid JSON"):
        load_results(DATA_DIR / "pytest_benchmark_truncated.json")


def test_nan_sample_is_rejected_naming_path_and_benchmark() -> None:
    with pytest.raises(InvalidInputError, match=r"pytest_benchmark_nan\.json.*test_fib.*nan"):
        load_results(DATA_DIR / "pytest_benchmark_nan.json")


def test_a_zero_sample_is_kept_and_the_user_warned(caplog) -> None:
    """A round below the timer's resolution reads 0.0 (a coarse clock, a very fast
    benchmark): the whole file, every benchmark of the run, was refused ("sample 7 is
    0.0; it must be > 0") and the run lost. The sample is a measurement: kept, and the
    benchmark's time is flagged as not judgeable, with a warning naming it."""
    path = DATA_DIR / "pytest_benchmark_zero_sample.json"
    with caplog.at_level("WARNING", logger="perf_pipeline.measure.results"):
        run = load_results(path)
    assert len(run.benchmarks) == 4
    fib = run.benchmark("test_fx.py::test_fib")
    assert fib is not None and len(fib.samples_s) == 8 and 0.0 in fib.samples_s
    assert dict(fib.summary)["min_s"] == 0.0 and fib.median_s > 0
    assert fib.zero_time_samples == 1
    assert [b.zero_time_samples for b in run.benchmarks if b is not fib] == [0, 0, 0]
    (warning,) = [r.getMessage() for r in caplog.records]
    assert str(path) in warning and "test_fx.py::test_fib" in warning
    assert "1 of 8 samples are 0.0 s" in warning and "not judged" in warning


def test_a_zero_median_is_kept_and_a_file_without_samples_says_so_by_its_min(
        tmp_path: Path) -> None:
    """Most rounds at 0.0: the median and the plugin's percentiles are 0 too (refused
    before, whole file); a file saved without samples shows it by its ``min``."""
    doc = json.loads(GOOD.read_text())
    stats = doc["benchmarks"][0]["stats"]
    stats["data"] = [0.0] * 7 + [1e-5]
    stats.update(min=0.0, median=0.0, q1=0.0, q3=0.0, iqr=0.0, mean=1.25e-6)
    doc["benchmarks"][0]["perf_pipeline"].update(p50_s=0.0, p90_s=3e-6)
    summary_only = json.loads(GOOD.read_text())
    summary_only["benchmarks"][0]["stats"].update(data=None, min=0.0)
    for name, content in (("zeros.json", doc), ("summary.json", summary_only)):
        (tmp_path / name).write_text(json.dumps(content))
    fib = load_results(tmp_path / "zeros.json").benchmarks[0]
    assert fib.zero_time_samples == 7 and fib.median_s == 0.0
    assert dict(fib.extra)["p50_s"] == 0.0
    assert load_results(tmp_path / "summary.json").benchmarks[0].zero_time_samples == 1


@pytest.mark.parametrize(("value", "message"), [
    (-1e-06, r"sample 3 is -1e-06; it must be >= 0"),
    (-0.0, None),  # a zero with a sign is a zero
    (float("nan"), r"sample 3 is nan, not a finite number"),
    (float("inf"), r"sample 3 is inf, not a finite number"),
])
def test_negative_nan_and_infinite_samples_are_refused_by_file_benchmark_and_index(
        tmp_path: Path, value: float, message: str | None) -> None:
    doc = json.loads(GOOD.read_text())
    doc["benchmarks"][0]["stats"]["data"][3] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))  # NaN and Infinity as Python's json writes them
    if message is None:
        assert load_results(path).benchmarks[0].zero_time_samples == 1
        return
    with pytest.raises(InvalidInputError,
                       match=rf"bad\.json: benchmark 'test_fx\.py::test_fib' {message}"):
        load_results(path)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(benchmarks="x"), "not a pytest-benchmark JSON"),
    (lambda d: d.update(benchmarks=[]), "no benchmarks"),
    (lambda d: d["benchmarks"][0]["stats"].update(data=["1"]), "not a number"),
    (lambda d: d["benchmarks"][0]["stats"].update(data=[True]), "not a number"),
    (lambda d: d["benchmarks"][0]["stats"].update(iterations=0), "iterations"),
    (lambda d: d["benchmarks"][0].pop("stats"), "no stats"),
    (lambda d: d["benchmarks"][0].update(fullname="", name=""), "no fullname"),
    (lambda d: d["benchmarks"][1].update(fullname=d["benchmarks"][0]["fullname"]), "duplicate"),
    (lambda d: d["benchmarks"][0]["perf_pipeline"].update(peak_rss_bytes="big"), "peak_rss"),
    (lambda d: d["perf_pipeline"].update(schema_version=99), "schema_version"),
])
def test_wrong_types_are_rejected(tmp_path: Path, mutate, message: str) -> None:
    doc = json.loads(GOOD.read_text())
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match=message):
        load_results(path)


def test_missing_file_and_non_run_directory_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_results(tmp_path / "nope.json")
    with pytest.raises(InvalidInputError, match="not a run directory"):
        load_results(tmp_path)


def _record(run_id: str, status: str = "success", **more: object) -> dict[str, object]:
    return {"run_id": run_id, "suite": "benchmarks", "status": status,
            "commit": {"sha": SHA, "branch": "main", "message": "m", "author": "a",
                       "committed_at": "2024-01-01T00:00:00+00:00", "dirty": False},
            "started_at": "2024-01-01T00:00:00+00:00", "duration_s": 1.5, "error": None,
            **more}


def test_raw_run_directory_round_trips(tmp_path: Path) -> None:
    run_dir = write_raw_run(tmp_path / "raw", _record("r1"), benchmark_json=GOOD)
    assert run_dir == tmp_path / "raw" / SHA / "r1"
    kept = json.loads(gzip.decompress((run_dir / "benchmark.json.gz").read_bytes()))
    original = json.loads(GOOD.read_bytes())
    for bench in original["benchmarks"]:  # kept as written, samples sorted
        bench["stats"]["data"].sort()
    assert kept == original and not (run_dir / "benchmark.json").exists()
    run = load_results(run_dir)
    assert run.run_id == "r1" and run.sha == SHA and run.commit.branch == "main"  # type: ignore[union-attr]
    assert len(run.benchmarks) == 4 and run.raw_path == str(run_dir)
    assert load_results(run_dir / "run.json").run_id == "r1"


def test_raw_run_records_the_ancestry_ordinal_and_older_records_have_none(
        tmp_path: Path) -> None:
    record = _record("r1")
    record["commit"]["ancestry_ordinal"] = 42  # type: ignore[index]
    run = load_results(write_raw_run(tmp_path / "raw", record, benchmark_json=GOOD))
    assert run.commit is not None and run.commit.ancestry_ordinal == 42
    older = load_results(write_raw_run(tmp_path / "raw", _record("r2"), benchmark_json=GOOD))
    assert older.commit is not None and older.commit.ancestry_ordinal is None
    for bad in ("42", -1, True, 1.5):
        record = _record(f"bad-{bad!r}".replace(".", "-").replace("'", ""))
        record["commit"]["ancestry_ordinal"] = bad  # type: ignore[index]
        run_dir = write_raw_run(tmp_path / "raw", record, benchmark_json=GOOD)
        with pytest.raises(InvalidInputError, match="ancestry_ordinal"):
            load_results(run_dir)


def test_run_directory_of_plain_json_files_is_still_read(tmp_path: Path) -> None:
    """Directories written before compression hold plain benchmark.json files."""
    run_dir = write_raw_run(tmp_path / "raw", _record("r1", benchmark_files=2),
                            benchmark_json=GOOD, more_benchmark_json=(GOOD,))
    for name in ("benchmark.json.gz", "benchmark-2.json.gz"):
        (run_dir / name).unlink()
    (run_dir / "benchmark.json").write_bytes(GOOD.read_bytes())
    (run_dir / "benchmark-2.json").write_bytes(GOOD.read_bytes())
    run = load_results(run_dir)
    good = load_results(GOOD)
    assert [len(b.samples_s) for b in run.benchmarks] == [
        2 * len(b.samples_s) for b in good.benchmarks]


def test_truncated_gzip_raw_file_is_a_clear_error(tmp_path: Path) -> None:
    run_dir = write_raw_run(tmp_path / "raw", _record("r1"), benchmark_json=GOOD)
    path = run_dir / "benchmark.json.gz"
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError, match=r"benchmark\.json\.gz is truncated gzip"):
        load_results(run_dir)
    path.write_bytes(data[:10] + b"garbage" * 20)
    with pytest.raises(InvalidInputError, match="corrupt gzip"):
        load_results(run_dir)


def test_failed_raw_run_has_no_benchmarks(tmp_path: Path) -> None:
    run_dir = write_raw_run(tmp_path / "raw", _record("r2", "failed", error="boom"))
    run = load_results(run_dir)
    assert run.status is RunStatus.FAILED and run.error == "boom" and run.benchmarks == ()


def test_successful_raw_run_without_benchmark_files_has_no_benchmarks(tmp_path: Path) -> None:
    run_dir = write_raw_run(tmp_path / "raw", _record("r4", benchmark_files=0, suite="stress"))
    run = load_results(run_dir)
    assert (run.status, run.suite, run.benchmarks) == (RunStatus.SUCCESS, "stress", ())


@pytest.mark.parametrize(("count", "with_file", "message"), [
    (None, False, "cannot read results file"),  # an older record: a success has files
    (1, False, "cannot read results file"),
    (2, True, "has 2 benchmark file"),
    (0, True, "no benchmark files, but"),
    ("1", True, "not a count"),
    (-1, False, "not a count"),
])
def test_benchmark_files_must_match_the_run_directory(tmp_path: Path, count: object,
                                                      with_file: bool, message: str) -> None:
    extra = {} if count is None else {"benchmark_files": count}
    run_dir = write_raw_run(tmp_path / "raw", _record("r5", **extra),
                            benchmark_json=GOOD if with_file else None)
    with pytest.raises(InvalidInputError, match=message):
        load_results(run_dir)


def test_raw_runs_are_never_rewritten(tmp_path: Path) -> None:
    run_dir = write_raw_run(tmp_path / "raw", _record("r3"), benchmark_json=GOOD)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    with pytest.raises(InvalidInputError, match="already exists"):
        write_raw_run(tmp_path / "raw", _record("r3", "failed", error="x"))
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temp files left


def test_raw_run_rejects_unsafe_names_and_unknown_schema(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="run_id"):
        write_raw_run(tmp_path / "raw", _record("../escape"))
    run_dir = write_raw_run(tmp_path / "raw", _record("r4"), benchmark_json=GOOD)
    record = json.loads((run_dir / "run.json").read_text())
    record["schema_version"] = 2
    (run_dir / "run.json").chmod(0o644)
    (run_dir / "run.json").write_text(json.dumps(record))
    with pytest.raises(InvalidInputError, match="schema_version 2"):
        load_results(run_dir)
