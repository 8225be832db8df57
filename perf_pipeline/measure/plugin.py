"""pytest plugin, loaded into the *target's* pytest run with ``-p perf_pipeline.measure.plugin``.

It only records data: per benchmark it adds memory, CPU, I/O, GC figures and latency
percentiles to pytest-benchmark's own JSON through the ``pytest_benchmark_update_json``
hook, under the key ``"perf_pipeline"`` of each benchmark (not ``extra_info``, which
belongs to the benchmark's author), and the environment fingerprint under the top-level
key ``"perf_pipeline"``. One file format, written by pytest-benchmark. When the session
finishes it writes pytest's exit status to the file the runner names (completion.py), so
a process ended early with status 0 is not taken for a passing suite.

It runs in the target's environment, so it imports only the standard library, pytest
(which is running it) and, when present, psutil. It never imports pytest-benchmark: it
instruments the ``benchmark`` fixture instance it finds on the test item.

Where its parts are: ``resource_usage.py`` takes the CPU, I/O, GC and memory figures of
a call (and says how, and why); ``benchmark_fixture.py`` wraps the ``benchmark`` fixture
to count calls outside the timer, take those figures, or profile; this module holds what
pytest calls (the hooks and the ``stress`` fixture), since pytest registers them from the
module loaded with ``-p``. Latency percentiles p50/p90/p99 come from pytest-benchmark's
per-round samples (s per call, ``percentiles.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

# Relative, so the same files also work when staged as their own package (runner "uv").
from .benchmark_fixture import RECORD_ATTR, Instrumented, Profiled
from .completion import claim_completion_path, write_completion
from .fingerprint import collect_environment, find_lock_file, given_cpu_info
from .percentiles import latency_percentiles
from .profiling import profile_settings
from .resource_usage import MEMORY_ABSENT_KEY
from .stress_session import StressSession, stress_dir, stress_multiplier

# ``MEMORY_ABSENT_KEY`` lives in ``resource_usage``; it is named here too, as part of what
# the plugin writes.
__all__ = ["JSON_KEY", "MEMORY_ABSENT_KEY", "PLUGIN_SCHEMA_VERSION"]

#: Key under which we write into pytest-benchmark's JSON (top level and per benchmark).
JSON_KEY = "perf_pipeline"
#: Version of what we write under ``JSON_KEY``.
PLUGIN_SCHEMA_VERSION = 1
_COMPLETION_ATTR = "_perf_pipeline_completion"
_ONLY_ATTR = "_perf_pipeline_benchmark_only"
_BENCHMARK_TESTS_ATTR = "_perf_pipeline_benchmark_tests"
_DESELECTED_ATTR = "_perf_pipeline_deselected_benchmarks"
_STRESS_TESTS_ATTR = "_perf_pipeline_stress_tests"
_DESELECTED_STRESS_ATTR = "_perf_pipeline_deselected_stress"


@pytest.fixture
def stress(request: pytest.FixtureRequest) -> Any:
    """Load scenarios for a stress test (see ``stress_session.StressSession``).

    The figures go to one JSON file per test in the directory named by
    ``PERF_PIPELINE_STRESS_DIR`` (set by perf_pipeline's runner), and a one-line summary
    per scenario to the test's ``user_properties`` (``--junitxml``).
    """
    try:
        multiplier = stress_multiplier()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from exc
    session = StressSession(request.node.nodeid, multiplier=multiplier, out_dir=stress_dir())
    yield session
    for scenario in session.scenarios:
        summary = {k: scenario.get(k) for k in ("kind", "p99_s", "throughput_ops_s",
                                                "peak_throughput_ops_s", "breaking_point",
                                                "exponent", "leak") if k in scenario}
        request.node.user_properties.append((f"stress.{scenario['name']}", summary))
    failed = getattr(request.node, "_perf_pipeline_failed", False)
    session.write(outcome="failed" if failed else "passed")


def pytest_configure(config: pytest.Config) -> None:
    """Take the completion marker's path (completion.py) before anything can inherit it.

    A target often turns benchmarks off for plain test runs (``--benchmark-disable`` or
    ``--benchmark-skip`` in its ``addopts``), and every run of it failed with "no
    benchmark ran". A process the runner started (it named a marker) is meant to measure
    them, so both are lifted before pytest-benchmark's own (last) configure reads them:
    a timed process gets ``--benchmark-enable`` (pytest-benchmark's override of a
    configured disable); a profiling one keeps the disable it runs with, and has a
    ``--benchmark-only`` lifted instead (pytest-benchmark refuses it beside a disable,
    which failed every profile of such a suite; ``pytest_collection_modifyitems`` keeps
    what it meant).
    """
    completion = claim_completion_path()
    setattr(config, _COMPLETION_ATTR, completion)
    option = config.option
    profiling = profile_settings() is not None
    if completion is not None:
        if getattr(option, "benchmark_skip", False):
            option.benchmark_skip = False
        if not profiling and getattr(option, "benchmark_disable", False):
            option.benchmark_enable = True
    if (profiling and getattr(option, "benchmark_disable", False)
            and getattr(option, "benchmark_only", False)):
        option.benchmark_only = False
        setattr(config, _ONLY_ATTR, True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests without a benchmark, as the ``--benchmark-only`` lifted above would."""
    if getattr(config, _ONLY_ATTR, False):
        skip = pytest.mark.skip(reason="Skipping non-benchmark (--benchmark-only active).")
        for item in items:
            if "benchmark" not in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


def _benchmark_items(items: Sequence[pytest.Item]) -> int:
    return sum("benchmark" in getattr(item, "fixturenames", ()) for item in items)


def _stress_items(items: Sequence[pytest.Item]) -> int:
    """Stress tests: what ``-m stress`` selects, and those using the ``stress`` fixture
    without the marker (they exist, so a stress run that misses them is a mistake)."""
    return sum(item.get_closest_marker("stress") is not None
               or "stress" in getattr(item, "fixturenames", ()) for item in items)


def pytest_deselected(items: Sequence[pytest.Item]) -> None:
    """Count the benchmarks and stress tests ``-k``/``-m`` deselected: they exist, so a
    selection that leaves none is a mistake, not a commit without the suite."""
    if items:
        config = items[0].config
        setattr(config, _DESELECTED_ATTR,
                getattr(config, _DESELECTED_ATTR, 0) + _benchmark_items(items))
        setattr(config, _DESELECTED_STRESS_ATTR,
                getattr(config, _DESELECTED_STRESS_ATTR, 0) + _stress_items(items))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the collected tests that use the ``benchmark`` fixture, and the stress
    tests, selected or not (completion.py): none means the suite has no such tests
    here, rather than tests that did not run."""
    config = session.config
    setattr(config, _BENCHMARK_TESTS_ATTR, _benchmark_items(session.items)
            + getattr(config, _DESELECTED_ATTR, 0))
    setattr(config, _STRESS_TESTS_ATTR, _stress_items(session.items)
            + getattr(config, _DESELECTED_STRESS_ATTR, 0))


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    """Tell the runner the session finished, with the exit status every other
    ``pytest_sessionfinish`` (pytest-benchmark's JSON among them) left behind."""
    yield
    path = getattr(session.config, _COMPLETION_ATTR, None)
    if path is not None and not hasattr(session.config, "workerinput"):  # xdist controller
        write_completion(path, int(session.exitstatus),
                         benchmark_tests=getattr(session.config, _BENCHMARK_TESTS_ATTR, None),
                         stress_tests=getattr(session.config, _STRESS_TESTS_ATTR, None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Remember a failed call, so the stress figures file says the test failed."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item._perf_pipeline_failed = True  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Instrument the test's ``benchmark`` fixture, if it has one, before the test body."""
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    if fixture is None or not hasattr(fixture, "_raw_pedantic"):
        return
    if not getattr(fixture, "disabled", False):
        Instrumented(fixture)
        return
    profiling = profile_settings()
    if profiling is not None:
        Profiled(fixture, *profiling)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_benchmark_generate_machine_info(config: pytest.Config) -> dict[str, Any] | None:
    """pytest-benchmark's own ``machine_info``, its CPU part the one the measuring process
    handed over (``fingerprint.CPU_INFO_ENV``) rather than py-cpuinfo asked again in a
    Python of its own. pytest-benchmark's function makes the rest, found through pytest's
    plugin manager (this module never imports pytest-benchmark); None, which leaves it all
    to pytest-benchmark, when nothing was handed over or its function is not there."""
    cpu = given_cpu_info()
    benchmark = config.pluginmanager.get_plugin("benchmark")
    ask = getattr(benchmark, "get_cpu_info", None)
    generate = getattr(benchmark, "pytest_benchmark_generate_machine_info", None)
    if cpu is None or ask is None or generate is None:
        return None
    benchmark.get_cpu_info = lambda: cpu  # type: ignore[union-attr]
    try:
        return generate()
    except TypeError:  # another pytest-benchmark's signature: its own way, then
        return None
    finally:
        benchmark.get_cpu_info = ask  # type: ignore[union-attr]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Sequence[Any],
                                 output_json: dict[str, Any]) -> None:
    """Add our figures to the JSON pytest-benchmark is about to write."""
    records = {}
    for meta in benchmarks:
        record = getattr(getattr(meta, "fixture", None), RECORD_ATTR, None)
        if record is not None:
            records[meta.fullname] = record
    for bench in output_json.get("benchmarks", []):
        figures = dict(records.get(bench.get("fullname"), {}))
        figures.update(latency_percentiles((bench.get("stats") or {}).get("data") or ()))
        bench[JSON_KEY] = figures
    lock_file = find_lock_file(Path(str(config.rootpath)))
    output_json[JSON_KEY] = {
        "schema_version": PLUGIN_SCHEMA_VERSION,
        "environment": collect_environment(lock_file=lock_file),
        "lock_file": str(lock_file) if lock_file else None,
    }
