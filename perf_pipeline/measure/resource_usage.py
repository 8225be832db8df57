"""What one call of a benchmarked function costs besides time: CPU, I/O, GC and memory.

Part of the pytest plugin (``plugin.py``), so it runs in the target's environment and
imports only the standard library and, when present, psutil. How each figure is taken,
and why:

* CPU user/system time, I/O bytes and GC collections are cheap deltas around the
  fixture's whole measuring call (calibration + warm-up + timed rounds), divided by the
  number of calls of the benchmarked function, which is counted outside the timer
  (``benchmark_fixture.py``). I/O is syscall-level (``rchar``/``wchar`` of
  /proc/self/io): the bytes the code asked to read or write, independent of the page
  cache, hence repeatable for the same code.
* Memory is measured in a SEPARATE pass after the timed rounds, so tracing never slows a
  timed round: the function is called once with the RSS high-water mark reset (Linux:
  "5" into /proc/self/clear_refs, then VmHWM) or sampled by a psutil thread elsewhere,
  and once more under tracemalloc (peak minus the traced size at the start).
  Those two calls are ours, not the test's, so they must never change its outcome: a
  call that raises is dropped, the memory figures are left out and ``MEMORY_ABSENT_KEY``
  says why.
"""

from __future__ import annotations

import gc
import os
import threading
import tracemalloc
from collections.abc import Callable

from .process_readings import reset_hwm, vm_hwm_bytes

try:  # psutil is optional in the target's environment
    import psutil
except ImportError:  # pragma: no cover - depends on the target env
    psutil = None  # type: ignore[assignment]

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

__all__ = ["MEMORY_ABSENT_KEY", "deltas_per_call", "memory_pass", "snapshot"]

#: Per benchmark: why the memory figures are missing, when they are (a string; the
#: results loader reads numeric figures only, so older readers skip it).
MEMORY_ABSENT_KEY = "memory_not_measured"
#: Longest exception text kept in ``MEMORY_ABSENT_KEY``.
_REASON_CHARS = 300


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


def snapshot() -> tuple[float, float, tuple[int, int] | None, int]:
    """CPU times, I/O bytes and GC collections so far: what ``deltas_per_call`` subtracts."""
    user, system = _cpu_times()
    return user, system, _io_bytes(), _gc_collections()


def deltas_per_call(before: tuple, after: tuple, calls: int) -> dict[str, float]:
    """The figures of ``snapshot`` spent between ``before`` and ``after``, per call."""
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


def memory_pass(
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
