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

How each figure is taken, and why:

* CPU user/system time, I/O bytes and GC collections are cheap deltas around the
  fixture's whole measuring call (calibration + warm-up + timed rounds), divided by the
  number of calls of the benchmarked function, which we count outside the timer.
  I/O is syscall-level (``rchar``/``wchar`` of /proc/self/io): the bytes the code asked to
  read or write, independent of the page cache, hence repeatable for the same code.
* Memory is measured in a SEPARATE pass after the timed rounds, so tracing never slows a
  timed round: the function is called once with the RSS high-water mark reset (Linux:
  "5" into /proc/self/clear_refs, then VmHWM) or sampled by a psutil thread elsewhere,
  and once more under tracemalloc (peak minus the traced size at the start).
  Those two calls are ours, not the test's, so they must never change its outcome: a
  ``benchmark.pedantic`` without a ``setup`` gets none (its author fixed how often the
  target runs, and ``os.rmdir`` or ``list.pop`` cannot run twice on the same arguments),
  and a call that raises is dropped. Either way the memory figures are left out and
  ``MEMORY_ABSENT_KEY`` says why.
* Percentiles p50/p90/p99 come from pytest-benchmark's per-round samples (s per call).
"""

from __future__ import annotations

import gc
import os
import threading
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

# Relative, so the same file also works when staged as its own package (runner "uv").
from .completion import claim_completion_path, write_completion
from .fingerprint import collect_environment, find_lock_file
from .percentiles import latency_percentiles
from .profiling import profile_benchmark, profile_only_call, profile_settings
from .stress_harness import reset_hwm, vm_hwm_bytes
from .stress_session import StressSession, stress_dir, stress_multiplier

try:  # psutil is optional in the target's environment
    import psutil
except ImportError:  # pragma: no cover - depends on the target env
    psutil = None  # type: ignore[assignment]

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

#: Key under which we write into pytest-benchmark's JSON (top level and per benchmark).
JSON_KEY = "perf_pipeline"
#: Version of what we write under ``JSON_KEY``.
PLUGIN_SCHEMA_VERSION = 1
#: Per benchmark: why the memory figures are missing, when they are (a string; the
#: results loader reads numeric figures only, so older readers skip it).
MEMORY_ABSENT_KEY = "memory_not_measured"
#: Longest exception text kept in ``MEMORY_ABSENT_KEY``.
_REASON_CHARS = 300
_RECORD_ATTR = "_perf_pipeline_record"
_COMPLETION_ATTR = "_perf_pipeline_completion"
_ONLY_ATTR = "_perf_pipeline_benchmark_only"


def _cpu_times() -> tuple[float, float]:
    """(user, system) CPU seconds of this process, at microsecond resolution if we can."""
    if resource is not None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime, usage.ru_stime
    times = os.times()  # pragma: no cover - non-Unix
    return times.user, times.system  # pragma: no cover


def _io_bytes() -> tuple[int, int] | None:
    """(read, written) bytes through read/write syscalls so far, or None if unknown."""
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        return int(fields["rchar"]), int(fields["wchar"])
    except (OSError, KeyError, ValueError):
        pass
    if psutil is not None:  # pragma: no cover - non-Linux
        try:
            counters = psutil.Process().io_counters()
        except (psutil.Error, AttributeError, NotImplementedError):
            return None
        read = getattr(counters, "read_chars", counters.read_bytes)
        written = getattr(counters, "write_chars", counters.write_bytes)
        return int(read), int(written)
    return None  # pragma: no cover


def _gc_collections() -> int:
    return sum(gen["collections"] for gen in gc.get_stats())


def _snapshot() -> tuple[float, float, tuple[int, int] | None, int]:
    user, system = _cpu_times()
    return user, system, _io_bytes(), _gc_collections()


def _deltas_per_call(before: tuple, after: tuple, calls: int) -> dict[str, float]:
    if calls < 1:
        return {}
    out = {
        "cpu_user_s": max(after[0] - before[0], 0.0) / calls,
        "cpu_system_s": max(after[1] - before[1], 0.0) / calls,
        "gc_collections": (after[3] - before[3]) / calls,
    }
    if before[2] is not None and after[2] is not None:
        out["io_read_bytes"] = max(after[2][0] - before[2][0], 0) / calls
        out["io_write_bytes"] = max(after[2][1] - before[2][1], 0) / calls
    return out


def _peak_rss_bytes(call: Callable[[], object]) -> int | None:
    """Peak resident set size of the process while ``call`` runs once."""
    if reset_hwm():
        call()
        return vm_hwm_bytes()
    if psutil is None:  # pragma: no cover - no way to see a peak
        call()
        return None
    proc = psutil.Process()  # pragma: no cover - non-Linux or restricted /proc
    peak = [proc.memory_info().rss]  # pragma: no cover
    done = threading.Event()  # pragma: no cover

    def sample() -> None:  # pragma: no cover
        while not done.wait(0.001):
            peak[0] = max(peak[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)  # pragma: no cover
    sampler.start()  # pragma: no cover
    try:  # pragma: no cover
        call()
    finally:  # pragma: no cover
        done.set()
        sampler.join()
    return max(peak[0], proc.memory_info().rss)  # pragma: no cover


def _tracemalloc_peak_bytes(call: Callable[[], object]) -> int:
    """Peak Python-heap growth while ``call`` runs once, under tracemalloc."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - start, 0)


def _describe(exc: BaseException) -> str:
    """``Type: message``, cut short; a message that cannot be rendered is left out."""
    try:
        message = str(exc)
    except Exception:
        message = ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:_REASON_CHARS]


def _memory_pass(
    call: Callable[..., object],
    *,
    prepare: Callable[[], tuple[tuple, dict]],
    cleanup: Callable[[tuple, dict], object] | None = None,
) -> dict[str, float | str]:
    """Call the benchmarked function twice more, untimed: once for RSS, once traced.

    The plugin only records data, so an extra call that raises (or its ``prepare`` or
    ``cleanup``: a pedantic ``setup`` or ``teardown``) must not fail the test: the
    figures not taken yet are left out, ``MEMORY_ABSENT_KEY`` says why, and no further
    call is made on state the failed one may have left half changed.
    """
    out: dict[str, float | str] = {}
    for metric, measure in (("peak_rss_bytes", _peak_rss_bytes),
                            ("tracemalloc_peak_bytes", _tracemalloc_peak_bytes)):
        try:
            args, kwargs = prepare()
            try:
                value = measure(lambda a=args, k=kwargs: call(*a, **k))
            finally:
                if cleanup is not None:
                    cleanup(args, kwargs)
        except Exception as exc:  # whatever it is, the test's outcome is not ours to change
            out[MEMORY_ABSENT_KEY] = f"an extra call for {metric} raised {_describe(exc)}"
            break
        if value is not None:
            out[metric] = float(value)
    return out


#: Why a ``benchmark.pedantic`` without a ``setup`` gets no call of ours: its author fixed
#: how often the target runs (``rounds=1`` of ``os.rmdir``, of ``items.pop``).
ONE_SHOT_REASON = "benchmark.pedantic without a setup: its target is not called again"


def _pedantic_args(setup: Callable, args: tuple, kwargs: dict | None
                   ) -> Callable[[], tuple[tuple, dict]]:
    """One fresh call's arguments, as pytest-benchmark makes them: what ``setup``
    returns, else the pedantic call's own."""
    def prepare() -> tuple[tuple, dict]:
        made = setup()
        if made:
            return tuple(made[0]), dict(made[1])
        return tuple(args), dict(kwargs or {})
    return prepare


def _teardown_of(teardown: Callable | None) -> Callable[[tuple, dict], object] | None:
    return (lambda a, k: teardown(*a, **k)) if teardown is not None else None


class _Instrumented:
    """Wraps one ``BenchmarkFixture`` instance; the record lands on the fixture."""

    def __init__(self, fixture: Any) -> None:
        self.fixture = fixture
        self.calls = 0
        self._make_runner = fixture._make_runner
        self._raw = fixture._raw
        self._raw_pedantic = fixture._raw_pedantic
        fixture._make_runner = self.make_runner
        fixture._raw = self.raw
        fixture._raw_pedantic = self.raw_pedantic

    def make_runner(self, function: Callable, args: tuple, kwargs: dict) -> Callable:
        runner = self._make_runner(function, args, kwargs)

        def counted(loops_range: range | None, *rest: Any, **kw: Any) -> Any:
            # Counting happens outside the runner's own timer.
            self.calls += len(loops_range) if loops_range else 1
            return runner(loops_range, *rest, **kw)

        return counted

    def _record(self, before: tuple, calls: int,
                memory: Callable[[], dict[str, float | str]]) -> None:
        after = _snapshot()
        record: dict[str, float | str] = {}
        if not self.fixture.cprofile:  # profiling would distort CPU time; skip it then
            record.update(_deltas_per_call(before, after, calls))
        record.update(memory())
        record["calls"] = float(calls)
        setattr(self.fixture, _RECORD_ATTR, record)

    def raw(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.fixture.disabled:
            return self._raw(function, *args, **kwargs)
        before = _snapshot()
        result = self._raw(function, *args, **kwargs)
        calls = self.calls + 1  # _raw calls the function once more for its return value
        self._record(before, calls, lambda: _memory_pass(function, prepare=lambda: (args, kwargs)))
        return result

    def raw_pedantic(self, target: Callable, args: tuple = (), kwargs: dict | None = None,
                     setup: Callable | None = None, teardown: Callable | None = None,
                     rounds: int = 1, warmup_rounds: int = 0, iterations: int = 1) -> Any:
        if self.fixture.disabled:
            return self._raw_pedantic(target, args, kwargs, setup, teardown, rounds,
                                      warmup_rounds, iterations)
        before = _snapshot()
        result = self._raw_pedantic(target, args, kwargs, setup, teardown, rounds,
                                    warmup_rounds, iterations)
        calls = self.calls + (1 if iterations > 1 else 0)
        if setup is None:
            # The author fixed how often the target runs (``rounds=1`` of ``os.rmdir``,
            # of ``items.pop``): a call of ours on the same arguments could fail or
            # change what the test asserts next. A ``setup`` prepares each call afresh
            # (pytest-benchmark runs it before every round), so one more is allowed.
            self._record(before, calls, lambda: {MEMORY_ABSENT_KEY: ONE_SHOT_REASON})
            return result

        prepare = _pedantic_args(setup, args, kwargs)
        self._record(before, calls, lambda: _memory_pass(
            target, prepare=prepare, cleanup=_teardown_of(teardown)))
        return result


class _Profiled:
    """A profiling process's fixture: profile the function, then call it once as usual.

    Only a fixture with timing disabled (``--benchmark-disable``) is profiled, so even a
    profile directory leaked into a timed process's environment cannot touch its rounds.
    """

    def __init__(self, fixture: Any, out_dir: Path, min_s: float) -> None:
        self.fixture, self.out_dir, self.min_s = fixture, out_dir, min_s
        self._raw, self._raw_pedantic = fixture._raw, fixture._raw_pedantic
        fixture._raw = self.raw
        fixture._raw_pedantic = self.raw_pedantic

    def raw(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        profile_benchmark(self.fixture.fullname, lambda: (function, args, kwargs),
                          self.out_dir, min_s=self.min_s)
        return self._raw(function, *args, **kwargs)

    def raw_pedantic(self, target: Callable, args: tuple = (), kwargs: dict | None = None,
                     setup: Callable | None = None, teardown: Callable | None = None,
                     rounds: int = 1, warmup_rounds: int = 0, iterations: int = 1) -> Any:
        if setup is None:
            # The one call pytest-benchmark makes of a disabled fixture, profiled: the
            # author fixed how often the target runs (see ``profile_only_call``).
            return profile_only_call(
                self.fixture.fullname, (target, tuple(args), dict(kwargs or {})),
                self.out_dir, reason=ONE_SHOT_REASON)

        prepare = _pedantic_args(setup, args, kwargs)
        profile_benchmark(self.fixture.fullname, lambda: (target, *prepare()), self.out_dir,
                          min_s=self.min_s, cleanup=_teardown_of(teardown))
        return self._raw_pedantic(target, args, kwargs, setup, teardown, rounds,
                                  warmup_rounds, iterations)


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

    In a profiling process, lift a ``--benchmark-only`` (the target's ``addopts`` or our
    ``pytest_args``) before pytest-benchmark's own (last) configure sees it: that plugin
    refuses it beside the ``--benchmark-disable`` a profile runs with, which failed every
    profile of such a suite. ``pytest_collection_modifyitems`` keeps what it meant.
    """
    setattr(config, _COMPLETION_ATTR, claim_completion_path())
    option = config.option
    if (profile_settings() is not None and getattr(option, "benchmark_disable", False)
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


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    """Tell the runner the session finished, with the exit status every other
    ``pytest_sessionfinish`` (pytest-benchmark's JSON among them) left behind."""
    yield
    path = getattr(session.config, _COMPLETION_ATTR, None)
    if path is not None and not hasattr(session.config, "workerinput"):  # xdist controller
        write_completion(path, int(session.exitstatus))


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
        _Instrumented(fixture)
        return
    profiling = profile_settings()
    if profiling is not None:
        _Profiled(fixture, *profiling)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Sequence[Any],
                                 output_json: dict[str, Any]) -> None:
    """Add our figures to the JSON pytest-benchmark is about to write."""
    records = {}
    for meta in benchmarks:
        record = getattr(getattr(meta, "fixture", None), _RECORD_ATTR, None)
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
