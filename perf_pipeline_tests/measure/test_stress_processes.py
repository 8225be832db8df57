"""A closed-loop stress step in worker processes: start line, reports over pipes, stuck
workers given up on in one grace. Run through ``closed_loop_step(mode="process")``."""

from __future__ import annotations

import time

import pytest


def test_a_stuck_process_worker_keeps_the_operations_it_finished(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A process worker reported only at its end, which a worker stuck in its operation
    never reaches: 20 finished calls each, then a hang, read as 2 ops and 100 % errors."""
    from perf_pipeline.measure import stress_harness, stress_processes

    monkeypatch.setattr(stress_processes, "PROCESS_GRACE_S", 1.0)
    calls = [0]  # each forked worker counts its own

    def op() -> None:
        calls[0] += 1
        if calls[0] > 20:
            time.sleep(60)  # killed with its process

    step = stress_harness.closed_loop_step(op, workers=2, step_s=0.3, mode="process")
    assert step["ok"] == 40
    assert step["errors_by_type"] == {"worker_stuck": 2}
    assert step["ops"] == 42 and step["error_rate"] == pytest.approx(2 / 42)


def test_a_process_worker_that_ends_late_in_the_grace_is_not_stuck(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its watchdog reports halfway through the grace; the report from its end, later,
    is the one that counts (taking the first would call a finished worker stuck)."""
    from perf_pipeline.measure import stress_harness, stress_processes

    monkeypatch.setattr(stress_processes, "PROCESS_GRACE_S", 2.0)

    def op() -> None:  # started at once, it ends 0.5 s after the watchdog reported
        time.sleep(1.8)

    step = stress_harness.closed_loop_step(op, workers=1, step_s=0.3, mode="process")
    assert step["ops"] == 1 and step["ok"] == 1 and step["errors"] == 0


def test_big_reports_of_a_stuck_and_a_late_worker_are_both_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports bigger than a pipe's buffer (as a histogram is on macOS's 16 KiB), from a
    stuck worker and one that ends in the grace, are all read and counted. With the
    pipes read one after another, the second worker's watchdog report waited in its pipe
    behind the first's grace, and a review reproduced its last report arriving too late
    (a finished worker read as stuck); that timing is too narrow to force here, so this
    guards the outcome. The errors' 200 KB type name makes every report that big."""
    import multiprocessing

    from perf_pipeline.measure import stress_harness, stress_processes

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the op is a closure: process workers need fork")
    monkeypatch.setattr(stress_processes, "PROCESS_GRACE_S", 2.0)
    big = type("Big" + "x" * 200_000, (Exception,), {})
    calls = [0]  # each forked worker counts its own
    ticket = multiprocessing.get_context("fork").Value("i", 0)

    def op() -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise big
        with ticket.get_lock():  # the first worker here hangs, the other ends in the grace
            first = ticket.value == 0
            ticket.value += 1
        time.sleep(60 if first else 1.8)

    step = stress_harness.closed_loop_step(op, workers=2, step_s=0.3, mode="process")
    assert step["errors_by_type"] == {big.__name__: 2, "worker_stuck": 1}
    assert step["ops"] == 4 and step["ok"] == 1


def test_a_process_step_starts_when_every_worker_is_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The start was fixed before the workers were forked, with 20 ms to spare; on a
    busy 2-core machine (CI) two of 8 workers came up after a 0.2 s step had ended and
    ran none of it. Here each worker takes 0.4 s to come up: all must still work."""
    import multiprocessing

    from perf_pipeline.measure import stress_harness, stress_processes

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the stand-in worker is a closure: process workers need fork")
    real_worker = stress_processes._process_worker

    def slow_to_start(*args: object) -> None:
        time.sleep(0.4)
        real_worker(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(stress_processes, "_process_worker", slow_to_start)
    working = multiprocessing.get_context("fork").Value("i", 0)
    calls = [0]  # each forked worker counts its own

    def op() -> None:
        calls[0] += 1
        if calls[0] == 1:
            with working.get_lock():
                working.value += 1
        sum(range(1000))

    step = stress_harness.closed_loop_step(op, workers=3, step_s=0.2, mode="process")
    assert working.value == 3
    assert step["errors"] == 0 and step["ok"] >= 3
    assert step["duration_s"] < 2.0  # from the start, not from the first fork


def test_pipes_are_waited_on_in_groups_when_there_are_many(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows' ``wait`` takes at most 63 handles (Python < 3.12) and a ramp may have 64
    process workers: the pipes are waited on in groups. Groups of one here, so the path
    runs on every platform."""
    from perf_pipeline.measure import stress_harness, stress_processes

    monkeypatch.setattr(stress_processes, "_WAIT_GROUP", 1)
    step = stress_harness.closed_loop_step(lambda: sum(range(1000)), workers=3, step_s=0.2,
                                           mode="process")
    assert step["errors"] == 0 and step["ok"] >= 3


def test_a_worker_stuck_in_the_middle_of_a_report_does_not_hold_the_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``recv`` has no timeout: a worker that sent a report's header but not its body
    (its op took the GIL between the two writes) held the parent until it went on."""
    import multiprocessing
    import struct

    from perf_pipeline.measure import stress_harness, stress_processes

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("the stand-in worker is a closure: process workers need fork")

    def half_a_report(conn, op, line, max_ops) -> None:  # type: ignore[no-untyped-def]
        line.wait()
        conn._send(struct.pack("!i", 100_000))  # a header promising 100 kB, then nothing
        time.sleep(10)

    monkeypatch.setattr(stress_processes, "PROCESS_GRACE_S", 1.0)
    monkeypatch.setattr(stress_processes, "_process_worker", half_a_report)
    started = time.perf_counter()
    step = stress_harness.closed_loop_step(lambda: None, workers=1, step_s=0.2,
                                           mode="process")
    took = time.perf_counter() - started
    assert step["errors_by_type"] == {"worker_stuck": 1}
    assert took < 4.0, took  # the grace (1 s) and the kill, not the worker's 10 s
