"""How cost and memory grow: the size sweep and the soak of the stress harness.

Split from ``stress_harness`` (the load generators); the rationale of both scenarios is in
that module's docstring. Standard library only: staged into the target's environment.
"""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from .latency_histogram import LatencyHistogram
from .process_readings import cpu_seconds, reset_hwm, rss_bytes, vm_hwm_bytes
from .stress_harness import MAX_STEP_S
from .trend import theil_sen

__all__ = ["MAX_SOAK_SAMPLES", "run_size_sweep", "run_soak"]

MAX_SOAK_SAMPLES = 400
_MAX_SWEEP_REPEATS = 200


def run_size_sweep(op: Callable[[Any], object], *, sizes: Sequence[int], repeats: int,
                   setup: Callable[[int], Any] | None, budget_s: float,
                   confidence: float = 0.95, min_time_s: float = 0.05,
                   clock: str = "cpu") -> dict:
    """Time ``op(setup(n))`` for each size; fit the scaling exponent with its interval.

    ``clock="cpu"`` (default) fits the calling thread's CPU time: on a shared machine a
    call longer than a scheduler slice is stretched by every other process while a short
    one is not, which bends a wall-clock exponent upwards (measured here: a quadratic
    loop came out at 2.4 in wall time). CPU time misses work done in other threads or
    processes and time spent waiting; an operation that waits (I/O, a lock, a pool) is
    swept with ``clock="wall"``. Both are recorded per size.

    The sizes are also timed **in turns**: a first pass calls each size ``repeats`` times
    in increasing order (no new size once ``budget_s`` is spent; at least two sizes are
    run), then, for ``min_time_s`` per size more within the budget, rounds call every
    size for about as long as one call of the largest takes. CPU time is stretched too
    when another process shares the core's caches or its hyperthread sibling, and timing
    each size in its own 50 ms gave a linear loop an exponent of 0.76 on a busy machine:
    the small sizes had had the busy spell, the large ones a quiet one. In turns, every size
    sees the same spells, and the fastest call of each is taken. Every size's argument
    is kept meanwhile (about twice the largest's memory for doubling sizes).
    """
    if clock not in ("cpu", "wall"):
        raise ValueError(f"clock must be 'cpu' or 'wall', not {clock!r}")
    sizes = sorted({max(1, int(n)) for n in sizes})
    if len(sizes) < 2:
        raise ValueError("a size sweep needs at least two distinct sizes")
    repeats = max(1, int(repeats))
    budget_s = min(float(budget_s), MAX_STEP_S * 5)  # the soak's cap: bounded whatever
    args: list[Any] = []
    wall: list[list[float]] = []
    cpu: list[list[float]] = []

    def call(i: int) -> None:
        cpu0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
        op(args[i])
        wall[i].append(max(time.perf_counter_ns() - wall0, 1) / 1e9)
        cpu[i].append(max(time.thread_time_ns() - cpu0, 1) / 1e9)

    started = time.perf_counter()
    # First pass, as a sweep always ran: each size ``repeats`` times, in increasing
    # order, no new size once the budget is spent.
    for n in sizes:
        if len(args) >= 2 and time.perf_counter() - started > budget_s:
            break
        args.append(setup(n) if setup is not None else n)
        wall.append([])
        cpu.append([])
        for _ in range(repeats):
            call(len(args) - 1)
    run = range(len(args))
    # Then rounds over every size, for ``min_time_s`` per size from here (the first pass
    # of a slow operation can take longer than that alone) within the budget: each size
    # for about one call of the largest (its fastest so far: a slow first call must not
    # set it), so a cheap size makes several calls a round, but no more than spreads its
    # calls left under ``cap`` over the rounds expected. The clock is read before each
    # size's turn.
    cap = max(repeats, _MAX_SWEEP_REPEATS)
    slot = min(wall[-1])
    now = time.perf_counter()
    until = min(now + min_time_s * len(args), started + budget_s)
    expected = max(1, math.ceil((until - now) / (len(args) * slot)))
    spread = max(1, (cap - repeats) // expected)
    per_round = [max(1, min(int(slot / min(wall[i])), spread)) for i in run]
    while time.perf_counter() < until and any(len(wall[i]) < cap for i in run):
        for i in run:
            if time.perf_counter() >= until:
                break
            for _ in range(min(per_round[i], cap - len(wall[i]))):
                call(i)
    points = [{"size": sizes[i], "repeats": len(wall[i]), "best_wall_s": min(wall[i]),
               "best_cpu_s": min(cpu[i]), "median_wall_s": sorted(wall[i])[len(wall[i]) // 2],
               "best_s": min(cpu[i]) if clock == "cpu" else min(wall[i])} for i in run]
    xs = [math.log(p["size"]) for p in points]
    ys = [math.log(p["best_s"]) for p in points]
    trend = theil_sen(xs, ys, confidence=confidence)
    return {"kind": "sweep", "clock": clock, "points": points, "exponent": trend.slope,
            "exponent_low": trend.low, "exponent_high": trend.high,
            "confidence": confidence, "sizes_run": len(points),
            "stopped_early": len(points) < len(sizes)}


def _halve(*series: array) -> int:
    """Keep the odd-numbered samples of full buffers (in place); returns how many: the
    newest is kept, and the kept iterations are multiples of twice the stride."""
    half = MAX_SOAK_SAMPLES // 2
    for values in series:
        values[:half] = values[1::2]
    return half


def run_soak(op: Callable[[], object], *, duration_s: float, max_iterations: int,
             leak_bytes_per_iteration: float, rss_leak_bytes_per_iteration: float,
             alpha: float, warmup_fraction: float = 0.2) -> dict:
    """Repeat ``op``; sample traced heap and RSS; decide whether memory leaks."""
    max_iterations = max(4, int(max_iterations))
    duration_s = min(float(duration_s), MAX_STEP_S * 5)
    # Preallocated, so the bookkeeping itself allocates nothing while tracing.
    iters, traced, rss = (array("q", [0] * MAX_SOAK_SAMPLES) for _ in range(3))
    hist = LatencyHistogram()
    errors: dict[str, int] = {}
    was_tracing = tracemalloc.is_tracing()
    gc_was_enabled = gc.isenabled()
    # Young generation only, here and per sample: a full collection takes 0.5 s in a
    # process with dagster and pandas loaded, and older garbage cannot move during the
    # soak anyway (automatic collection is paused).
    gc.collect(0)
    if not was_tracing:
        tracemalloc.start()
    gc.disable()
    cpu0 = cpu_seconds()
    reset_hwm()
    started = time.perf_counter()
    stride, n_samples, i = 1, 0, 0
    try:
        while i < max_iterations:
            began = time.perf_counter_ns()
            try:
                op()
            except Exception as exc:  # under load every failure is a figure
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            else:
                hist.record_ns(time.perf_counter_ns() - began)
            i += 1
            elapsed = time.perf_counter() - started
            if i == 3:  # aim at ~MAX_SOAK_SAMPLES/2 samples over the whole soak
                expected = min(max_iterations, duration_s / max(elapsed / 3, 1e-6))
                stride = max(1, int(expected // (MAX_SOAK_SAMPLES // 2)))
            if i % stride == 0:
                if n_samples == MAX_SOAK_SAMPLES:
                    # Full (the first iterations, a cold start, were slower than the
                    # rest): keep every other sample and sample half as often, so the
                    # samples still span the whole soak. Stopping here sampled only its
                    # beginning: a cache that fills early and then stays flat read as a
                    # leak, and growth after that point was never seen.
                    n_samples = _halve(iters, traced, rss)
                    stride *= 2
                if i % stride == 0:
                    gc.collect(0)
                    iters[n_samples] = i
                    traced[n_samples] = tracemalloc.get_traced_memory()[0]
                    rss[n_samples] = rss_bytes()
                    n_samples += 1
            if elapsed >= duration_s:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
        if not was_tracing:
            tracemalloc.stop()
    wall_s = time.perf_counter() - started
    cpu_used = cpu_seconds() - cpu0
    skip = int(n_samples * warmup_fraction)
    xs = [float(v) for v in iters[skip:n_samples]]
    verdicts = {}
    for name, series, floor in (("traced", traced, leak_bytes_per_iteration),
                                ("rss", rss, rss_leak_bytes_per_iteration)):
        ys = [float(v) for v in series[skip:n_samples]]
        if len(set(xs)) < 4:
            verdicts[name] = {"slope": None, "low": None, "high": None, "p_value": None,
                              "leak": False, "floor_bytes_per_iteration": floor}
            continue
        trend = theil_sen(xs, ys)
        leak = trend.p_value < alpha and trend.low > 0 and trend.slope >= floor
        verdicts[name] = {"slope": trend.slope, "low": trend.low, "high": trend.high,
                          "p_value": trend.p_value, "leak": leak,
                          "floor_bytes_per_iteration": floor}
    ops = i
    n_err = sum(errors.values())
    return {
        "kind": "soak", "iterations": ops, "duration_s": wall_s, "samples": n_samples,
        "warmup_samples": skip, "alpha": alpha,
        "growth_bytes_per_iteration": verdicts["traced"]["slope"],
        "rss_growth_bytes_per_iteration": verdicts["rss"]["slope"],
        "traced_trend": verdicts["traced"], "rss_trend": verdicts["rss"],
        "leak": bool(verdicts["traced"]["leak"] or verdicts["rss"]["leak"]),
        "errors": n_err, "error_rate": n_err / ops if ops else 0.0,
        "errors_by_type": dict(sorted(errors.items())),
        "throughput_ops_s": hist.count / wall_s if wall_s > 0 else 0.0,
        "cpu_s": cpu_used, "cpu_utilisation": cpu_used / wall_s if wall_s else 0.0,
        "peak_rss_bytes": vm_hwm_bytes(), **hist.summary(), "histogram": hist.to_dict(),
        "series": {"iteration": list(iters[:n_samples]), "traced_bytes": list(traced[:n_samples]),
                   "rss_bytes": list(rss[:n_samples])},
    }
