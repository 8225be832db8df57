"""The plugin's profiling pass inside a real pytest run (pytester), read back as the
profile step reads it: what it calls, how often, and what it says it left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.measure.profile_read import read_profile_dir
from perf_pipeline.measure.profiling import PROFILE_DIR_ENV, PROFILE_MIN_S_ENV

pytest_plugins = ["pytester"]

SUITE = '''
ITEMS = list(range(10))
MADE = []

def test_one_shot(benchmark):
    # its author fixed how often the target runs: one pop, and the test relies on it
    assert benchmark.pedantic(ITEMS.pop, rounds=1) == 9
    assert ITEMS == list(range(9))

def make():
    MADE.append(object())
    return (len(MADE),), {}

def use(n):
    return sum(range(1000 * n % 7 + 1000))

def drop(n):
    MADE.pop()

def test_setup_and_teardown(benchmark):
    benchmark.pedantic(use, setup=make, teardown=drop, rounds=3)
    # every call of the profiler's was undone by the teardown; what is left is the one
    # setup of the disabled fixture's own call (pytest-benchmark runs no teardown then)
    assert len(MADE) == 1
'''


def test_a_one_shot_pedantic_benchmark_is_profiled_in_its_one_call_and_a_teardown_runs(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The profiler called a pedantic target without a setup at least five times on the
    same arguments (it popped the list empty, or failed), and never ran a teardown."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    out = pytester.path / "profiles"
    monkeypatch.setenv(PROFILE_DIR_ENV, str(out))
    monkeypatch.setenv(PROFILE_MIN_S_ENV, "0.05")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "perf_pipeline.measure.plugin", "-p", "no:cacheprovider",
                                "--benchmark-disable")
    result.assert_outcomes(passed=2)
    profiles = read_profile_dir(out, Path(pytester.path))
    one_shot = next(p for n, p in profiles.items() if n.endswith("::test_one_shot"))
    assert one_shot.time.calls == 1 and one_shot.memory is None
    assert "not called again" in (one_shot.memory_not_measured or "")
    assert any("pop" in f.key for f in one_shot.time.functions)
    torn = next(p for n, p in profiles.items() if n.endswith("::test_setup_and_teardown"))
    assert torn.memory is not None and torn.memory_not_measured is None
    assert torn.time.calls >= 1


C_CALLABLES = '''
import functools
import numpy as np

DATA = np.arange(20_000.0)

def test_ufunc(benchmark):
    benchmark(np.add, DATA, DATA)

def test_c_class(benchmark):
    benchmark(bytearray, 200_000)

def test_partial(benchmark):
    benchmark(functools.partial(np.multiply, 2.0), DATA)

def test_one_shot_c_class(benchmark):
    benchmark.pedantic(bytearray, args=(200_000,), rounds=1)
'''


def test_a_benchmarked_ufunc_or_c_class_has_its_time_in_the_profile(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """cProfile records no call of a numpy ufunc, a class implemented in C or a partial
    of one: ``benchmark(np.add, a, b)`` profiled to nothing, "0 ns → 0 ns per call"."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    out = pytester.path / "profiles"
    monkeypatch.setenv(PROFILE_DIR_ENV, str(out))
    monkeypatch.setenv(PROFILE_MIN_S_ENV, "0.02")
    pytester.makepyfile(test_suite=C_CALLABLES)
    result = pytester.runpytest("-p", "perf_pipeline.measure.plugin", "-p", "no:cacheprovider",
                                "--benchmark-disable")
    result.assert_outcomes(passed=4)
    profiles = read_profile_dir(out, Path(pytester.path))
    expected = {"test_ufunc": "<call of numpy.add>", "test_c_class": "<call of bytearray>",
                "test_partial": "<call of functools.partial>",
                "test_one_shot_c_class": "<call of bytearray>"}
    for test, key in expected.items():
        profile = next(p for n, p in profiles.items() if n.endswith("::" + test)).time
        assert key in {f.key for f in profile.functions}, profile.functions
        assert sum(f.own_s for f in profile.functions) > 0
