"""A closed-loop stress step in worker processes (``closed_loop_step(mode="process")``).

The workers are forked (the operation is usually a closure, which spawn could not
pickle), wait at a start line until every one is up, and report their tallies over
pipes: at their end, and from a watchdog thread at a report time in case they are stuck
in an operation. The parent reads every pipe as reports come, gives up on the stragglers
after one grace for all of them, and counts each worker that never sent its final report
as stuck.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .process_readings import cpu_seconds, reset_hwm, vm_hwm_bytes
from .stress_tally import Tally, closed_worker, tally_of

__all__ = ["PROCESS_GRACE_S", "process_step"]

#: How long past a step's deadline its workers get to finish (threads too, in
#: ``stress_harness``); every stuck worker shares the one grace.
PROCESS_GRACE_S = 5.0
_START_TIMEOUT_S = 30.0  # for every process worker to be up (spawn imports the test module)
_WAIT_GROUP = 60


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
        times = (start_ns, deadline_ns, deadline_ns + int(PROCESS_GRACE_S * 0.5e9))
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
    tally = Tally()
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
        closed_worker(op, tally, start_ns, deadline_ns, max_ops, lock)
    finally:
        watchdog.cancel()
        report(True)
        conn.close()


def process_step(op: Callable[[], object], *, workers: int, step_s: float,
                 per_worker: int) -> tuple[Tally, int, int, int | None, float]:
    """Run the step in ``workers`` processes: (merged tally, start and deadline
    (perf_counter ns), the highest peak RSS of a worker (None: unknown), the workers'
    CPU seconds)."""
    tally = Tally()
    peak = None
    child_cpu = 0.0
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
    give_up = deadline_ns + int((PROCESS_GRACE_S + 0.1) * 1e9)
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
            tally.merge(tally_of(got))
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
    return tally, start_ns, deadline_ns, peak, child_cpu
