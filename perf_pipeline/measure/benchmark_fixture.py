"""The ``benchmark`` fixture of pytest-benchmark, wrapped in place for one test.

Part of the pytest plugin (``plugin.py``), which wraps the fixture instance it finds on
the test item (it never imports pytest-benchmark). In a timed process ``Instrumented``
counts the calls of the benchmarked function outside the timer and leaves its figures
(``resource_usage.py``) on the fixture for the JSON hook; in a profiling process
(timing disabled) ``Profiled`` profiles the function first.

A ``benchmark.pedantic`` without a ``setup`` gets no call of ours: its author fixed how
often the target runs (``os.rmdir`` or ``list.pop`` cannot run twice on the same
arguments), so its memory figures are left out and ``MEMORY_ABSENT_KEY`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .profiling import profile_benchmark, profile_only_call
from .resource_usage import MEMORY_ABSENT_KEY, deltas_per_call, memory_pass, snapshot

__all__ = ["ONE_SHOT_REASON", "RECORD_ATTR", "Instrumented", "Profiled"]

#: Where ``Instrumented`` leaves a benchmark's figures on its fixture.
RECORD_ATTR = "_perf_pipeline_record"

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


class Instrumented:
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
        after = snapshot()
        record: dict[str, float | str] = {}
        if not self.fixture.cprofile:  # profiling would distort CPU time; skip it then
            record.update(deltas_per_call(before, after, calls))
        record.update(memory())
        record["calls"] = float(calls)
        setattr(self.fixture, RECORD_ATTR, record)

    def raw(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.fixture.disabled:
            return self._raw(function, *args, **kwargs)
        before = snapshot()
        result = self._raw(function, *args, **kwargs)
        calls = self.calls + 1  # _raw calls the function once more for its return value
        self._record(before, calls, lambda: memory_pass(function, prepare=lambda: (args, kwargs)))
        return result

    def raw_pedantic(self, target: Callable, args: tuple = (), kwargs: dict | None = None,
                     setup: Callable | None = None, teardown: Callable | None = None,
                     rounds: int = 1, warmup_rounds: int = 0, iterations: int = 1) -> Any:
        if self.fixture.disabled:
            return self._raw_pedantic(target, args, kwargs, setup, teardown, rounds,
                                      warmup_rounds, iterations)
        before = snapshot()
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
        self._record(before, calls, lambda: memory_pass(
            target, prepare=prepare, cleanup=_teardown_of(teardown)))
        return result


class Profiled:
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
