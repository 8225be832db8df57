"""Profile one benchmark's calls: cProfile, tracemalloc growth by site, RSS over time.

Loaded by the pytest plugin inside the target's pytest (so it imports only the standard
library and, when present, psutil), and only in a *profiling* process: one that the
runner starts with ``PROFILE_DIR_ENV`` set and ``--benchmark-disable``. A timed process
never gets here (see ``plugin.pytest_runtest_call``), so a profile can never slow a timed
round.

Three untimed passes over the benchmarked function, each on its own, because each tool
distorts what the next would see (a tracer slows every call; a sampling thread shows up in
a profile):

1. cProfile around the calls only (not pytest, not fixtures, not the setup of a pedantic
   benchmark): ``<slug>.prof``, readable by ``pstats.Stats`` and snakeviz.
2. tracemalloc: a snapshot before and after the calls, compared by allocation line; what a
   call leaves behind (a cache that keeps every input) grows with each call, a temporary
   does not. Written as ``<slug>.tracemalloc.json``.
3. The resident set size sampled by a thread every few milliseconds while the function
   runs (what ``mprof run`` records): ``<slug>.memory.json``.

Each pass calls the function until ``min_s`` seconds have passed (at least once), so a
fast benchmark gives a profile of many calls and a slow one costs one call per pass.
``<slug>.profile.json`` and the pass files say how many calls each pass made: readers
divide by them.
"""

from __future__ import annotations

import cProfile
import gc
import hashlib
import json
import os
import re
import threading
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path

try:  # psutil is optional in the target's environment
    import psutil
except ImportError:  # pragma: no cover - depends on the target env
    psutil = None  # type: ignore[assignment]

#: Set by the runner in a profiling process only: where the profile files go.
PROFILE_DIR_ENV = "PERF_PIPELINE_PROFILE_DIR"
#: Optional: seconds of calls each pass should fill (default ``DEFAULT_MIN_S``).
PROFILE_MIN_S_ENV = "PERF_PIPELINE_PROFILE_MIN_S"
#: Version of the ``*.profile.json`` records.
PROFILE_SCHEMA_VERSION = 1
DEFAULT_MIN_S = 0.3
MAX_CALLS = 10_000
#: Allocation lines kept per benchmark (largest growth first).
MAX_SITES = 300
_SAMPLE_INTERVAL_S = 0.005
_MAX_SAMPLES = 20_000

#: One prepared call: the function and its arguments (called directly, so the profile's
#: root is the benchmarked function itself, not a wrapper of ours).
Call = tuple[Callable[..., object], tuple, dict]
#: What undoes a call's setup (a pedantic ``teardown``), given the call's arguments.
Cleanup = Callable[[tuple, dict], object]


def benchmark_slug(name: str) -> str:
    """A file-name-safe, unique stem for a benchmark's full name."""
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.rsplit("::", 1)[-1])[:60].strip("._") or "b"
    return f"{tail}-{hashlib.sha1(name.encode('utf-8')).hexdigest()[:10]}"


#: What cProfile records a call of: a Python function (a bound method's too) or a
#: builtin function or method.
_RECORDED = (types.FunctionType, types.MethodType, types.BuiltinFunctionType)


def recorded_callable(function: Callable[..., object]) -> Callable[..., object]:
    """``function`` itself, or, when cProfile would not record a call of it, a function
    that calls it and is recorded under its name (``<call of numpy.add>``).

    cProfile records calls of Python functions and of builtin functions only. A class
    implemented in C (``bytearray``, ``collections.deque``, ``decimal.Decimal``), a numpy
    ufunc (``np.add``, ``np.exp``) or a ``functools.partial`` of one, benchmarked directly,
    left nothing in the profile: its time was on no row, and the diff said "0 ns → 0 ns
    per call". The wrapper's code is relabelled like a builtin's (file ``~``) so that its
    key is its name, the same at both commits.
    """
    if isinstance(function, _RECORDED):
        return function
    owner = getattr(function, "__module__", None) or type(function).__module__
    name = (getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
            or type(function).__qualname__)
    label = f"<call of {owner}.{name}>" if owner and owner != "builtins" else f"<call of {name}>"

    def call(*args: object, **kwargs: object) -> object:
        return function(*args, **kwargs)

    call.__code__ = call.__code__.replace(co_name=label, co_filename="~", co_firstlineno=0)
    return call


def _enough(calls: int, started: float, min_s: float) -> bool:
    return calls >= MAX_CALLS or (calls >= 1 and time.perf_counter() - started >= min_s)


def _cprofile_pass(make_call: Callable[[], Call], min_s: float, path: Path,
                   cleanup: Cleanup | None = None) -> int:
    """Profile calls until ``min_s`` seconds have passed; returns how many ran."""
    profiler = cProfile.Profile()
    calls, started = 0, time.perf_counter()
    wrapped: dict[int, Callable[..., object]] = {}
    while not _enough(calls, started, min_s):
        function, args, kwargs = make_call()  # a pedantic setup runs outside the profiler
        if id(function) not in wrapped:  # the same object every call: wrapped once
            wrapped[id(function)] = recorded_callable(function)
        function = wrapped[id(function)]
        profiler.enable()
        try:
            function(*args, **kwargs)
        finally:
            profiler.disable()
            if cleanup is not None:  # and its teardown too
                cleanup(args, kwargs)
        calls += 1
    profiler.dump_stats(str(path))
    return calls


def _run_calls(make_call: Callable[[], Call], min_s: float,
               cleanup: Cleanup | None = None) -> int:
    calls, started = 0, time.perf_counter()
    while not _enough(calls, started, min_s):
        function, args, kwargs = make_call()
        try:
            function(*args, **kwargs)
        finally:
            if cleanup is not None:
                cleanup(args, kwargs)
        calls += 1
    return calls


def _tracemalloc_pass(make_call: Callable[[], Call], min_s: float,
                      cleanup: Cleanup | None = None) -> dict[str, object]:
    """Growth per allocation line over the calls of ``min_s`` seconds, and the traced peak."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(1)
    try:
        ignore = (tracemalloc.Filter(False, tracemalloc.__file__),
                  tracemalloc.Filter(False, __file__))
        gc.collect()
        before = tracemalloc.take_snapshot().filter_traces(ignore)
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        calls = _run_calls(make_call, min_s, cleanup)
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(ignore)
    finally:
        if not was_tracing:
            tracemalloc.stop()
    diffs = [d for d in after.compare_to(before, "lineno") if d.size_diff > 0]
    diffs.sort(key=lambda d: d.size_diff, reverse=True)
    sites = [[d.traceback[0].filename, d.traceback[0].lineno, d.size_diff, d.count_diff]
             for d in diffs[:MAX_SITES]]
    return {"calls": calls, "peak_bytes": max(peak - start, 0), "sites": sites}


def _rss_reader() -> Callable[[], int] | None:
    if psutil is not None:
        proc = psutil.Process()
        return lambda: int(proc.memory_info().rss)
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def statm() -> int:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * page

    try:
        statm()
    except (OSError, ValueError, IndexError):  # pragma: no cover - no /proc
        return None
    return statm


def _memory_series_pass(make_call: Callable[[], Call], min_s: float,
                        cleanup: Cleanup | None = None) -> dict[str, object]:
    """RSS over time while the function runs for ``min_s`` seconds, as ``mprof run`` does."""
    read = _rss_reader()
    if read is None:  # pragma: no cover
        return {"calls": _run_calls(make_call, min_s, cleanup), "t_s": [], "rss_bytes": []}
    times: list[float] = []
    values: list[int] = []
    done = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while len(times) < _MAX_SAMPLES:
            times.append(time.perf_counter() - start)
            values.append(read())
            if done.wait(_SAMPLE_INTERVAL_S):
                break

    gc.collect()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        calls = _run_calls(make_call, min_s, cleanup)
    finally:
        done.set()
        sampler.join()
    times.append(time.perf_counter() - start)
    values.append(read())
    return {"calls": calls, "t_s": [round(t, 6) for t in times], "rss_bytes": values}


def _write_json(path: Path, body: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    os.replace(tmp, path)


def profile_benchmark(name: str, make_call: Callable[[], Call], out_dir: Path, *,
                      min_s: float = DEFAULT_MIN_S, cleanup: Cleanup | None = None) -> Path:
    """Run the three passes over the calls ``make_call()`` prepares; write the files.

    ``make_call`` prepares one call (a pedantic benchmark's ``setup`` runs there, outside
    every measurement) and ``cleanup`` undoes it after the call (its ``teardown``, left
    out before, so every call of ours leaked what the setup made). Each pass runs for
    ``min_s`` seconds (at least one call) after one warm-up call. Returns the path of the
    ``.profile.json`` record.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = benchmark_slug(name)
    _run_calls(make_call, 0.0, cleanup)  # warm-up: first-call costs are not news
    prof_path = out_dir / f"{slug}.prof"
    calls = _cprofile_pass(make_call, min_s, prof_path, cleanup)
    _write_json(out_dir / f"{slug}.tracemalloc.json",
                _tracemalloc_pass(make_call, min_s, cleanup))
    _write_json(out_dir / f"{slug}.memory.json",
                _memory_series_pass(make_call, min_s, cleanup))
    record = out_dir / f"{slug}.profile.json"
    _write_json(record, {
        "schema_version": PROFILE_SCHEMA_VERSION, "benchmark": name, "calls": calls,
        "prof": prof_path.name, "tracemalloc": f"{slug}.tracemalloc.json",
        "memory": f"{slug}.memory.json", "cwd": os.getcwd(),
    })
    return record


def profile_only_call(name: str, call: Call, out_dir: Path, *, reason: str) -> object:
    """Profile the one call the test makes anyway, and return its result.

    For a benchmark whose author fixed how often its target runs (``benchmark.pedantic``
    without a ``setup``: ``rounds=1`` of ``os.rmdir`` or ``items.pop``), a call of ours
    on the same arguments could fail, or profile a different workload (an emptied list).
    So its only profile is cProfile around that one call; the memory passes, which would
    each need calls of their own, are not taken, and the record says why (``reason``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = benchmark_slug(name)
    function, args, kwargs = call
    function = recorded_callable(function)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        result = function(*args, **kwargs)
    finally:
        profiler.disable()
    prof_path = out_dir / f"{slug}.prof"
    profiler.dump_stats(str(prof_path))
    _write_json(out_dir / f"{slug}.profile.json", {
        "schema_version": PROFILE_SCHEMA_VERSION, "benchmark": name, "calls": 1,
        "prof": prof_path.name, "memory_not_measured": reason, "cwd": os.getcwd(),
    })
    return result


def profile_settings() -> tuple[Path, float] | None:
    """``(out_dir, min_s)`` when this process is a profiling one, else None."""
    out = os.environ.get(PROFILE_DIR_ENV, "").strip()
    if not out:
        return None
    try:
        min_s = float(os.environ.get(PROFILE_MIN_S_ENV, "") or DEFAULT_MIN_S)
    except ValueError:
        min_s = DEFAULT_MIN_S
    return Path(out), min_s if min_s > 0 else DEFAULT_MIN_S
