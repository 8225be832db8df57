"""What a stress step records: each worker's tally, the closed-loop worker that fills
one, and the step's figures (throughput, errors, CPU, latency percentiles) from them.

Each worker records into its own ``Tally`` without a lock; the step merges them when
its workers are done (a process worker sends its tally's dict over a pipe: ``tally_of``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

from .latency_histogram import LatencyHistogram

__all__ = ["Tally", "closed_worker", "step_record", "step_wall_s", "tally_of"]


class Tally:
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

    def merge(self, other: Tally) -> None:
        self.hist.merge(other.hist)
        self.service.merge(other.service)
        for name, n in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + n
        self.ops += other.ops
        self.last_ns = max(self.last_ns, other.last_ns)


def closed_worker(op: Callable[[], object], tally: Tally, start_ns: int, deadline_ns: int,
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


def tally_of(got: dict) -> Tally:
    part = Tally()
    part.hist = LatencyHistogram.from_dict(got["hist"])
    part.errors, part.ops = dict(got["errors"]), int(got["ops"])
    part.last_ns = int(got.get("last_ns") or 0)
    return part


def step_wall_s(tally: Tally, start_ns: int, deadline_ns: int) -> float:
    """The step's length for its throughput. With a stuck worker, the step ends with the
    last operation any worker finished (at the deadline at least), not after the grace
    spent waiting for the stuck one: one hung call made the others' throughput read as
    a fraction of what they did."""
    end_ns = time.perf_counter_ns()
    if tally.errors.get("worker_stuck"):
        end_ns = min(end_ns, max(deadline_ns, tally.last_ns))
    return max((end_ns - start_ns) / 1e9, 1e-9)


def step_record(*, kind: str, load: float, workers: int, tally: Tally, wall_s: float,
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
