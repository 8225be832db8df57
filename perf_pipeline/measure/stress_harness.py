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
The size sweep and the soak live in ``stress_growth``; the process mode of a closed-loop
step in ``stress_processes``, a step's record in ``stress_tally`` and this process's
CPU and memory readings in ``process_readings``.

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

import math
import threading
import time
from collections.abc import Callable, Sequence

from .process_readings import cpu_seconds, reset_hwm, rss_bytes, vm_hwm_bytes
from .stress_processes import PROCESS_GRACE_S, process_step
from .stress_tally import Tally, closed_worker, step_record, step_wall_s

# The readings are re-exported: the plugin's modules and tests import them from here.
__all__ = ["MAX_WORKERS", "breaking_point", "closed_loop_step", "cpu_seconds",
           "open_loop_step", "reset_hwm", "rss_bytes", "vm_hwm_bytes", "worker_counts"]

#: Hard caps, whatever the multiplier says.
MAX_WORKERS = 64
MAX_STEP_S = 120.0
MAX_OPS_PER_STEP = 2_000_000
#: The grace past a step's deadline for its threads, as for its processes (one for all).
_PROCESS_GRACE_S = PROCESS_GRACE_S


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


def closed_loop_step(op: Callable[[], object], *, workers: int, step_s: float,
                     mode: str = "thread", max_ops: int = MAX_OPS_PER_STEP) -> dict:
    """``workers`` workers call ``op`` back to back for ``step_s`` seconds (or ``max_ops``)."""
    if mode not in ("thread", "process"):
        raise ValueError(f"mode must be 'thread' or 'process', not {mode!r}")
    workers = max(1, min(int(workers), MAX_WORKERS))
    step_s = min(float(step_s), MAX_STEP_S)
    per_worker = max(1, min(int(max_ops), MAX_OPS_PER_STEP) // workers)
    tally = Tally()
    reset_hwm()
    cpu0 = cpu_seconds()
    peak = None
    child_cpu = 0.0
    if mode == "thread":
        start_ns = time.perf_counter_ns() + 20_000_000  # all workers start together
        deadline_ns = start_ns + int(step_s * 1e9)
        tallies = [Tally() for _ in range(workers)]
        threads = [threading.Thread(target=closed_worker, daemon=True,
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
        tally, start_ns, deadline_ns, peak, child_cpu = process_step(
            op, workers=workers, step_s=step_s, per_worker=per_worker)
    wall_s = step_wall_s(tally, start_ns, deadline_ns)
    own = vm_hwm_bytes()
    peak = max(peak or 0, own or 0) or None
    return step_record(kind="closed", load=float(workers), workers=workers, tally=tally,
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
    tallies = [Tally() for _ in range(workers)]
    clock = time.perf_counter_ns
    reset_hwm()
    cpu0 = cpu_seconds()
    t0 = clock() + 20_000_000
    hard_deadline = t0 + int(duration_s * 1e9) + lag_ns

    def work(tally: Tally) -> None:
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
    tally = Tally()
    give_up = hard_deadline + int(_PROCESS_GRACE_S * 1e9)  # one grace for all workers
    for th in threads:
        th.join(timeout=max((give_up - clock()) / 1e9, 0.0))
        if th.is_alive():
            tally.stuck()
    for t in tallies:
        tally.merge(t)
    wall_s = step_wall_s(tally, t0, t0 + int(duration_s * 1e9))
    record = step_record(kind="open", load=float(rate_per_s), workers=workers, tally=tally,
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
