"""The stress harness behind the ``stress`` fixture: load ramps, open loop, size sweeps,
soaks, breaking points. Standard library (and, when present, psutil) only, because it
runs inside the target's pytest and is staged there as plain files.

What each scenario measures, and why it is measured that way:

* **Closed-loop ramp** (``ramp``): 1, 2, 4, … workers (threads or processes) each call
  the operation back to back for a bounded time per step. Throughput and latency per
  step show where adding workers stops helping (a lock, the GIL, a single-writer db).
* **Open loop** (``open_loop``, ``rate_ramp``): requests are *scheduled* at a fixed
  arrival rate and each latency is measured from its **intended** start. A closed loop
  waits for a slow call before sending the next, so a 0.5 s stall costs one slow sample
  instead of the hundred requests that would have queued behind it (coordinated
  omission); here those requests are late, and their lateness is in the latency. A
  request still unsent at the hard deadline is counted as ``not_sent`` and recorded with
  the lateness it had by then (a lower bound), so an overload cannot shrink the tail.
The size sweep and the soak live in ``stress_growth``.

* **Size sweep** (``size_sweep``): n, 2n, 4n, …, timed in turns; the fastest of a few
  repeats per size (the least disturbed by a busy machine), and the Theil–Sen slope of
  log(time) on log(size) is the scaling exponent, with Sen's interval (``trend.py``).
* **Soak** (``soak``): the operation repeated for a bounded time; after each sampled
  iteration the traced Python heap (tracemalloc) and the RSS are read. Automatic garbage
  collection is paused during the soak and a young-generation collection runs before
  each sample: a full collection costs ~0.1 s in a process with pandas loaded, and the
  garbage an iteration makes is young. The leak verdict is a robust trend test over all
  samples after a warm-up (Mann–Kendall p < alpha, Sen's interval above 0, and a slope
  above a bytes-per-iteration floor), never one before/after difference.
* **Breaking point**: the highest step of a ramp at which p99 stays under the test's
  latency objective and the error rate under its limit; the ramp stops after the first
  step that breaks.

Every latency goes into a ``LatencyHistogram`` (bounded relative error, kept whole in the
figures file). ``STRESS_MULTIPLIER`` scales durations and sizes; above 1 it also scales the
largest worker count (below 1 the concurrency a test asks for is kept: fewer workers
would test something else). Everything is bounded in time and count; the harness never
opens a socket itself.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - Windows: the plugin must still load there
    resource = None  # type: ignore[assignment]

from .latency_histogram import LatencyHistogram

__all__ = ["MAX_WORKERS", "breaking_point", "closed_loop_step", "cpu_seconds",
           "open_loop_step", "reset_hwm", "rss_bytes", "vm_hwm_bytes", "worker_counts"]

#: Hard caps, whatever the multiplier says.
MAX_WORKERS = 64
MAX_STEP_S = 120.0
MAX_OPS_PER_STEP = 2_000_000
_PROCESS_GRACE_S = 5.0
_START_TIMEOUT_S = 30.0  # for every process worker to be up (spawn imports the test module)
_WAIT_GROUP = 60


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all its threads."""
    if resource is None:  # pragma: no cover - Windows
        times = os.times()
        return times.user + times.system
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def vm_hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0  # no /proc: the RSS trend is flat, the traced-heap trend still decides


def worker_counts(max_workers: int, multiplier: float) -> tuple[int, ...]:
    """1, 2, 4, … up to ``max_workers`` (times the multiplier when it is above 1)."""
    top = max_workers * multiplier if multiplier > 1 else max_workers
    top = max(1, min(MAX_WORKERS, round(top)))
    counts = [1]
    while counts[-1] * 2 <= top:
        counts.append(counts[-1] * 2)
    if counts[-1] != top:
        counts.append(top)
    return tuple(counts)


class _Tally:
    """One worker's private record: no lock while recording."""

    __slots__ = ("errors", "hist", "last_ns", "ops", "service")

    def __init__(self) -> None:
        self.hist = LatencyHistogram()
        self.service = LatencyHistogram()
        self.errors: dict[str, int] = {}
        self.ops = 0
        self.last_ns = 0  # when its last operation ended (perf_counter_ns; 0: none)

    def error(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1

    def stuck(self) -> None:
        """A worker still inside its operation after the step's grace: that operation is
        one more op, and an error (else a step where every call hangs had 0 ops and an
        error rate of 0, which no rule can see)."""
        self.error("worker_stuck")
        self.ops += 1

    def merge(self, other: _Tally) -> None:
        self.hist.merge(other.hist)
        self.service.merge(other.service)
        for name, n in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + n
        self.ops += other.ops
        self.last_ns = max(self.last_ns, other.last_ns)


def _closed_worker(op: Callable[[], object], tally: _Tally, start_ns: int, deadline_ns: int,
                   max_ops: int, lock: threading.Lock | None = None) -> None:
    """Call ``op`` back to back until the deadline. With ``lock``, each op's record is
    made under it, so another thread can copy the tally whole while ``op`` runs."""
    clock = time.perf_counter_ns
    guard = lock if lock is not None else contextlib.nullcontext()
    while clock() < start_ns:
        time.sleep(0.0005)
    while tally.ops < max_ops:
        began = clock()
        if began >= deadline_ns:
            break
        try:
            op()
        except Exception as exc:  # the operation under load: every failure is a figure
            with guard:
                tally.error(type(exc).__name__)
                tally.ops += 1
                tally.last_ns = clock()
            continue
        ended = clock()
        with guard:
            tally.hist.record_ns(ended - began)
            tally.ops += 1
            tally.last_ns = ended


class _StartLine:
    """The start of a process-mode step, set once every worker is up. Fixed before the
    workers were started, the start left a 20 ms margin for starting them all; on a busy
    2-core machine forking 8 took longer than a 0.2 s step, and the late workers ran
    none of it (spawn, which imports the test module in each worker, is slower still)."""

    def __init__(self, ctx: Any) -> None:
        self.ready = ctx.Semaphore(0)  # one release per worker that is up
        self.go = ctx.Event()
        self.times = ctx.RawArray("q", 3)  # start, deadline, watchdog report (perf ns)

    def wait(self) -> tuple[int, int, int] | None:  # pragma: no cover - child
        self.ready.release()
        if not self.go.wait(_START_TIMEOUT_S + 5.0):
            return None  # the parent gave up on the step (or died)
        start_ns, deadline_ns, report_at_ns = self.times[:]
        return start_ns, deadline_ns, report_at_ns

    def open(self, procs: Sequence[Any], *, step_s: float) -> tuple[int, int, int]:
        """Wait until every living worker is up (at most ``_START_TIMEOUT_S``), then set
        the times and let them go."""
        up = 0
        stop = time.monotonic() + _START_TIMEOUT_S
        while up < len(procs) and time.monotonic() < stop:
            if self.ready.acquire(timeout=0.05):
                up += 1
            elif up + sum(not p.is_alive() for p in procs) >= len(procs):
                break  # the others died before they were up: nothing to wait for
        start_ns = time.perf_counter_ns() + 20_000_000  # the last one woken has 20 ms
        deadline_ns = start_ns + int(step_s * 1e9)
        # Halfway through the grace: a stuck worker's watchdog reports before the parent
        # gives up on it.
        times = (start_ns, deadline_ns, deadline_ns + int(_PROCESS_GRACE_S * 0.5e9))
        self.times[:] = times
        self.go.set()
        return times


def _process_worker(conn: Any, op: Callable[[], object], line: _StartLine,
                    max_ops: int) -> None:  # pragma: no cover - child
    """One process of a process-mode step. It reports its tally at the end, and a
    watchdog thread reports what it has finished so far at the line's report time if the
    end has not come by then: a worker stuck in its operation never reaches its end, and
    reporting only there lost every operation it had finished (its step read 100 %
    errors). An operation stuck in C code that holds the GIL keeps the watchdog from
    running too; the step then counts the worker as stuck with nothing finished."""
    times = line.wait()
    if times is None:
        conn.close()
        return
    start_ns, deadline_ns, report_at_ns = times
    tally = _Tally()
    lock = threading.Lock()  # one op's record, or one copy of the tally
    send_lock = threading.Lock()  # one report on the pipe (a send can block: not under lock)
    final_sent = False
    cpu0 = cpu_seconds()
    reset_hwm()

    def report(final: bool) -> None:
        nonlocal final_sent
        with lock:
            body = {"hist": tally.hist.to_dict(), "errors": dict(tally.errors),
                    "ops": tally.ops, "cpu_s": cpu_seconds() - cpu0, "hwm": vm_hwm_bytes(),
                    "last_ns": tally.last_ns, "final": final}
        with send_lock:
            if final_sent:
                return
            conn.send(body)
            final_sent = final

    watchdog = threading.Timer(max(0.0, (report_at_ns - time.perf_counter_ns()) / 1e9),
                               report, args=(False,))
    watchdog.daemon = True
    watchdog.start()
    try:
        _closed_worker(op, tally, start_ns, deadline_ns, max_ops, lock)
    finally:
        watchdog.cancel()
        report(True)
        conn.close()


def _tally_of(got: dict) -> _Tally:
    part = _Tally()
    part.hist = LatencyHistogram.from_dict(got["hist"])
    part.errors, part.ops = dict(got["errors"]), int(got["ops"])
    part.last_ns = int(got.get("last_ns") or 0)
    return part


def _wall_s(tally: _Tally, start_ns: int, deadline_ns: int) -> float:
    """The step's length for its throughput. With a stuck worker, the step ends with the
    last operation any worker finished (at the deadline at least), not after the grace
    spent waiting for the stuck one: one hung call made the others' throughput read as
    a fraction of what they did."""
    end_ns = time.perf_counter_ns()
    if tally.errors.get("worker_stuck"):
        end_ns = min(end_ns, max(deadline_ns, tally.last_ns))
    return max((end_ns - start_ns) / 1e9, 1e-9)


def _step_record(*, kind: str, load: float, workers: int, tally: _Tally, wall_s: float,
                 cpu_s: float, peak_rss: int | None, extra: dict | None = None) -> dict:
    errors = sum(tally.errors.values())
    done = tally.hist.count
    record = {
        "kind": kind, "load": load, "workers": workers, "duration_s": wall_s,
        "ops": tally.ops, "ok": done, "errors": errors,
        "error_rate": errors / tally.ops if tally.ops else 0.0,
        "errors_by_type": dict(sorted(tally.errors.items())),
        "throughput_ops_s": done / wall_s if wall_s > 0 else 0.0,
        "cpu_s": cpu_s, "cpu_utilisation": cpu_s / wall_s if wall_s > 0 else 0.0,
        "cpu_count": os.cpu_count() or 1, "peak_rss_bytes": peak_rss,
        **tally.hist.summary(), "histogram": tally.hist.to_dict(),
    }
    if extra:
        record.update(extra)
    return record


def closed_loop_step(op: Callable[[], object], *, workers: int, step_s: float,
                     mode: str = "thread", max_ops: int = MAX_OPS_PER_STEP) -> dict:
    """``workers`` workers call ``op`` back to back for ``step_s`` seconds (or ``max_ops``)."""
    if mode not in ("thread", "process"):
        raise ValueError(f"mode must be 'thread' or 'process', not {mode!r}")
    workers = max(1, min(int(workers), MAX_WORKERS))
    step_s = min(float(step_s), MAX_STEP_S)
    per_worker = max(1, min(int(max_ops), MAX_OPS_PER_STEP) // workers)
    tally = _Tally()
    reset_hwm()
    cpu0 = cpu_seconds()
    peak = None
    child_cpu = 0.0
    if mode == "thread":
        start_ns = time.perf_counter_ns() + 20_000_000  # all workers start together
        deadline_ns = start_ns + int(step_s * 1e9)
        tallies = [_Tally() for _ in range(workers)]
        threads = [threading.Thread(target=_closed_worker, daemon=True,
                                    args=(op, t, start_ns, deadline_ns, per_worker))
                   for t in tallies]
        for th in threads:
            th.start()
        # One grace for the whole step, not one per worker: waiting for stuck workers
        # one after another made a step of 64 workers last 64 graces.
        give_up = deadline_ns + int((_PROCESS_GRACE_S + 0.1) * 1e9)
        for th in threads:
            th.join(timeout=max(0.0, (give_up - time.perf_counter_ns()) / 1e9))
            if th.is_alive():
                tally.stuck()
        for t in tallies:
            tally.merge(t)
    else:
        # fork: the operation is usually a closure, which spawn could not pickle.
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        procs = []
        line = _StartLine(ctx)
        for _ in range(workers):
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_process_worker, daemon=True,
                               args=(child, op, line, per_worker))
            proc.start()
            child.close()
            procs.append((proc, parent))
        start_ns, deadline_ns, _report_at = line.open([p for p, _ in procs], step_s=step_s)
        give_up = deadline_ns + int((_PROCESS_GRACE_S + 0.1) * 1e9)
        # Every pipe read as its reports come: read one after another, a report bigger
        # than the pipe's buffer (16 KiB on macOS) waited in its worker until the parent
        # had given up on the workers before it.
        latest: list[dict | None] = [None] * len(procs)
        pending = {parent: k for k, (_proc, parent) in enumerate(procs)}

        def give_up_on_the_rest() -> None:
            # ``recv`` has no timeout: a worker stuck between a report's header and its
            # body (an op holding the GIL) would hold the parent past the grace. Killed,
            # its pipe ends and ``recv`` raises.
            for k in list(pending.values()):
                if procs[k][0].is_alive():
                    procs[k][0].kill()

        killer = threading.Timer(max(0.0, (give_up - time.perf_counter_ns()) / 1e9),
                                 give_up_on_the_rest)
        killer.daemon = True
        killer.start()
        try:
            while pending:
                timeout = (give_up - time.perf_counter_ns()) / 1e9
                if timeout <= 0:
                    break
                conns = list(pending)
                # Windows' wait takes at most 63 handles (Python < 3.12): in groups, each
                # for a short while, when there are more.
                groups = [conns[i:i + _WAIT_GROUP] for i in range(0, len(conns), _WAIT_GROUP)]
                for group in groups:
                    ready = multiprocessing.connection.wait(
                        group, timeout if len(groups) == 1 else min(timeout, 0.05))
                    for conn in ready:
                        k = pending[conn]
                        try:
                            got = conn.recv()
                        except (EOFError, OSError):  # it died; a cut-off message is none
                            del pending[conn]
                            continue
                        latest[k] = got
                        if got["final"]:
                            del pending[conn]
        finally:
            killer.cancel()
        for got in latest:  # the newest report of each: its last, or its watchdog's
            if got is not None:
                tally.merge(_tally_of(got))
                child_cpu += float(got["cpu_s"])
                if got["hwm"] is not None:
                    peak = max(peak or 0, int(got["hwm"]))
            if got is None or not got["final"]:
                tally.stuck()
        for proc, _ in procs:  # stuck ones are killed together, not one grace each
            proc.join(timeout=max(0.0, (give_up - time.perf_counter_ns()) / 1e9))
            if proc.is_alive():
                proc.kill()
        for proc, _ in procs:
            proc.join(timeout=1.0)
    wall_s = _wall_s(tally, start_ns, deadline_ns)
    own = vm_hwm_bytes()
    peak = max(peak or 0, own or 0) or None
    return _step_record(kind="closed", load=float(workers), workers=workers, tally=tally,
                        wall_s=wall_s, cpu_s=cpu_seconds() - cpu0 + child_cpu, peak_rss=peak,
                        extra={"mode": mode})


def open_loop_step(op: Callable[[], object], *, rate_per_s: float, duration_s: float,
                   workers: int = 4, max_lag_s: float | None = None) -> dict:
    """Requests at ``rate_per_s`` for ``duration_s``; latency from the intended start.

    ``workers`` threads take the next scheduled request in turn. A request whose
    intended start is more than ``max_lag_s`` (default: ``duration_s``, at least 1 s) in
    the past when the hard deadline comes is not sent: counted as ``not_sent`` and
    recorded with its lateness at the deadline.
    """
    if not 0 < rate_per_s < math.inf:
        raise ValueError(f"rate_per_s must be a finite number > 0, not {rate_per_s!r}")
    if not 0 < duration_s < math.inf:
        raise ValueError(f"duration_s must be a finite number > 0, not {duration_s!r}")
    workers = max(1, min(int(workers), MAX_WORKERS))
    duration_s = min(float(duration_s), MAX_STEP_S)
    total = max(1, min(int(rate_per_s * duration_s), MAX_OPS_PER_STEP))
    interval_ns = 1e9 / rate_per_s
    lag_ns = int((max_lag_s if max_lag_s is not None else max(duration_s, 1.0)) * 1e9)
    lock = threading.Lock()
    counter = iter(range(total))
    tallies = [_Tally() for _ in range(workers)]
    clock = time.perf_counter_ns
    reset_hwm()
    cpu0 = cpu_seconds()
    t0 = clock() + 20_000_000
    hard_deadline = t0 + int(duration_s * 1e9) + lag_ns

    def work(tally: _Tally) -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            intended = t0 + int(i * interval_ns)
            now = clock()
            if now < intended:
                time.sleep((intended - now) / 1e9)
            began = clock()
            if began >= hard_deadline:
                tally.ops += 1
                tally.error("not_sent")
                tally.hist.record_ns(hard_deadline - intended)
                continue
            try:
                op()
            except Exception as exc:  # the operation under load: every failure is a figure
                tally.error(type(exc).__name__)
                tally.ops += 1
                tally.last_ns = clock()
                continue
            end = clock()
            tally.hist.record_ns(end - intended)
            tally.service.record_ns(end - began)
            tally.ops += 1
            tally.last_ns = end

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in tallies]
    for th in threads:
        th.start()
    tally = _Tally()
    give_up = hard_deadline + int(_PROCESS_GRACE_S * 1e9)  # one grace for all workers
    for th in threads:
        th.join(timeout=max((give_up - clock()) / 1e9, 0.0))
        if th.is_alive():
            tally.stuck()
    for t in tallies:
        tally.merge(t)
    wall_s = _wall_s(tally, t0, t0 + int(duration_s * 1e9))
    record = _step_record(kind="open", load=float(rate_per_s), workers=workers, tally=tally,
                          wall_s=wall_s, cpu_s=cpu_seconds() - cpu0, peak_rss=vm_hwm_bytes(),
                          extra={"rate_per_s": float(rate_per_s), "scheduled": total,
                                 "service": tally.service.summary(),
                                 "service_histogram": tally.service.to_dict()})
    # Requests not sent count as errors, yet their lateness is in the histogram.
    record["ok"] = tally.hist.count - tally.errors.get("not_sent", 0)
    record["throughput_ops_s"] = record["ok"] / wall_s
    return record


def breaking_point(steps: Sequence[dict], *, p99_objective_s: float | None,
                   max_error_rate: float) -> float | None:
    """The highest ``load`` reached before the first step that breaks the objectives.

    A step breaks when its p99 exceeds ``p99_objective_s`` (if given), its error rate
    exceeds ``max_error_rate``, or it completed nothing. None: the first step broke.
    """
    best = None
    for step in sorted(steps, key=lambda s: s["load"]):
        p99 = step.get("p99_s")
        broke = (step["error_rate"] > max_error_rate or p99 is None
                 or (p99_objective_s is not None and p99 > p99_objective_s))
        if broke:
            break
        best = step["load"]
    return best
