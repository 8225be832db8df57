"""The pytest plugin inside a real pytest-benchmark run, via pytester."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.measure import measure_commit
from perf_pipeline.measure.plugin import MEMORY_ABSENT_KEY
from perf_pipeline.model import RunStatus
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import commit_files

pytest_plugins = ["pytester"]

SUITE = '''
import gc
import tracemalloc

TRACING = []

def allocate():
    TRACING.append(tracemalloc.is_tracing())
    block = bytearray(50 * 1024 * 1024)
    return len(block)

def test_alloc(benchmark):
    # a setup (even one that makes no arguments) lets the plugin call it once more
    benchmark.pedantic(allocate, setup=lambda: None, rounds=3)
    # every timed round ran untraced; the one traced call came after them
    assert TRACING[:3] == [False, False, False]
    assert TRACING.count(True) == 1

def test_write(benchmark, tmp_path):
    target = tmp_path / "out.bin"
    benchmark.pedantic(target.write_bytes, args=(b"x" * 200_000,), rounds=4)

def make_cycles():
    for _ in range(3000):
        node = []
        node.append(node)

def test_gc(benchmark):
    benchmark.pedantic(make_cycles, rounds=4, iterations=2)

def test_setup_args(benchmark):
    benchmark.pedantic(sorted, setup=lambda: ((list(range(1000, 0, -1)),), {}), rounds=3)

def test_disabled_gc_micro(benchmark):
    benchmark(sum, range(20))
'''


def test_plugin_records_memory_io_gc_cpu_percentiles_and_environment(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """One child run (a few seconds), checked from every side."""
    # Under pytest-xdist, a worker's identity makes pytest-benchmark disable benchmarks.
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "perf_pipeline.measure.plugin", "-p", "no:cacheprovider",
                                "--benchmark-json=out.json", "--benchmark-max-time=0.02",
                                "--benchmark-min-rounds=3")
    result.assert_outcomes(passed=5)  # includes: timed rounds ran without tracemalloc
    doc = json.loads((pytester.path / "out.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}

    alloc = by_name["test_alloc"]["perf_pipeline"]
    assert alloc["tracemalloc_peak_bytes"] >= 50 * 1024 * 1024
    assert alloc["peak_rss_bytes"] >= 50 * 1024 * 1024
    assert alloc["calls"] == 3

    write = by_name["test_write"]["perf_pipeline"]
    assert write["io_write_bytes"] >= 200_000
    assert write["cpu_user_s"] >= 0 and write["cpu_system_s"] >= 0

    cycles = by_name["test_gc"]["perf_pipeline"]
    assert cycles["calls"] == 4 * 2 + 1  # rounds x iterations + the call for the result
    assert cycles["gc_collections"] > 0

    bench = by_name["test_setup_args"]
    ours, data = bench["perf_pipeline"], sorted(bench["stats"]["data"])
    assert ours["p50_s"] == pytest.approx(bench["stats"]["median"])
    assert data[0] <= ours["p50_s"] <= ours["p90_s"] <= ours["p99_s"] <= data[-1]
    assert ours["tracemalloc_peak_bytes"] > 0

    top = doc["perf_pipeline"]
    assert top["schema_version"] == 1
    assert top["environment"]["cpu_count"] >= 1 and top["environment"]["python_version"]
    assert "pytest-benchmark" in top["environment"]["packages"]


def test_plugin_does_nothing_when_benchmarks_are_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_b(benchmark):\n    assert benchmark(lambda: 3) == 3\n")
    result = pytester.runpytest("-p", "perf_pipeline.measure.plugin", "--benchmark-disable")
    result.assert_outcomes(passed=1)


ONE_SHOT_SUITE = '''
import os
import tempfile
import tracemalloc

def test_rmdir_once(benchmark):
    d = tempfile.mkdtemp()
    benchmark.pedantic(os.rmdir, args=(d,), rounds=1, iterations=1)
    assert not os.path.exists(d)

def test_consume(benchmark):
    items = [1, 2]
    benchmark.pedantic(items.pop, rounds=2)
    assert items == []

def test_setup_but_one_call_per_round(benchmark):
    seen = []
    def once_per_round(n):
        seen.append(n)
        if len(seen) > 2:
            raise RuntimeError("called more often than the rounds")
    benchmark.pedantic(once_per_round, setup=lambda: ((len(seen),), {}), rounds=2)

def fails_when_traced():
    if tracemalloc.is_tracing():
        raise RuntimeError("not under tracemalloc")
    return 1

def test_traced_call_raises(benchmark):
    assert benchmark(fails_when_traced) == 1
'''


def test_extra_memory_calls_never_fail_the_test(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin only records data: one-shot pedantic targets (which pass under plain
    pytest-benchmark) are not called again, and an extra call that raises costs its
    memory figure, never the test; the JSON says why the figures are missing."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_one_shot=ONE_SHOT_SUITE)
    result = pytester.runpytest("-p", "perf_pipeline.measure.plugin", "-p", "no:cacheprovider",
                                "--benchmark-json=out.json", "--benchmark-max-time=0.01",
                                "--benchmark-min-rounds=3", "--benchmark-warmup=off")
    result.assert_outcomes(passed=4)
    doc = json.loads((pytester.path / "out.json").read_text())
    ours = {b["name"]: b["perf_pipeline"] for b in doc["benchmarks"]}
    memory = {"peak_rss_bytes", "tracemalloc_peak_bytes"}

    for name in ("test_rmdir_once", "test_consume"):
        assert not memory & ours[name].keys()
        assert "without a setup" in ours[name][MEMORY_ABSENT_KEY]
        assert ours[name]["p50_s"] > 0  # the rest is recorded as usual
    assert ours["test_consume"]["calls"] == 2

    setup_once = ours["test_setup_but_one_call_per_round"]
    assert not memory & setup_once.keys()
    assert "peak_rss_bytes raised RuntimeError" in setup_once[MEMORY_ABSENT_KEY]

    traced = ours["test_traced_call_raises"]
    assert "tracemalloc_peak_bytes" not in traced
    assert "tracemalloc_peak_bytes raised RuntimeError: not under tracemalloc" in (
        traced[MEMORY_ABSENT_KEY])


@pytest.mark.parametrize("addopts", ["--benchmark-disable", "--benchmark-skip"])
def test_a_target_that_turns_benchmarks_off_in_its_config_is_still_measured(
        addopts: str, target_repo: Path, make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    """Many projects keep benchmarks out of plain test runs with ``addopts``; every run of
    such a target failed with "pytest wrote no benchmark JSON (no benchmark ran?)"."""
    commit_files(target_repo, {"proj/pyproject.toml":
                               f'[tool.pytest.ini_options]\naddopts = "{addopts}"\n'},
                 "keep benchmarks out of plain test runs")
    settings = make_settings(target_repo)
    with HistoryStore.open(tmp_path / "h.db") as store:
        run = measure_commit(settings, "main", store=store)
    assert run.status is RunStatus.SUCCESS, run.error
    assert {b.name for b in run.benchmarks} == {"tests/test_perf.py::test_work",
                                               "tests/test_perf.py::test_more"}
    assert all(len(b.samples_s) >= 3 for b in run.benchmarks)


def test_a_plain_pytest_run_with_the_plugin_keeps_the_disable(
        pytester: pytest.Pytester) -> None:
    """Only a process the runner started lifts a disable: loaded by hand (no marker), the
    plugin leaves a user's ``--benchmark-disable`` alone."""
    pytester.makepyfile("def test_b(benchmark):\n    assert benchmark(lambda: 3) == 3\n")
    result = pytester.runpytest("-p", "perf_pipeline.measure.plugin", "--benchmark-disable",
                                "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "out.json").exists()
