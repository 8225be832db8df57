"""analysis.profile_diff: ranking, folding, spread, memory; pure, on hand-made profiles."""

from __future__ import annotations

import pytest

from perf_pipeline.analysis import build_flame, diff_memory, diff_profiles, fold_libraries
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import AllocationSite, FunctionProfile, MemoryProfile, TimeProfile

NAME = "tests/test_x.py::test_x"


def profile(calls: int, *, helper_s: float = 0.0, numpy_s: float = 0.002,
            jitter: float = 0.0) -> TimeProfile:
    """``run`` calls ``helper`` (target code) and numpy's ``sort`` -> ``_wrap`` (folded)."""
    n = calls
    fs = [
        FunctionProfile("core/a.py:run", n, 0.001 * n * (1 + jitter),
                        (0.001 * (1 + jitter) + helper_s + numpy_s) * n),
        FunctionProfile("numpy/core/x.py:sort", n, numpy_s * n / 2, numpy_s * n,
                        package="numpy", callers=(("core/a.py:run", n, numpy_s * n / 2,
                                                   numpy_s * n),)),
        FunctionProfile("numpy/core/y.py:_wrap", n, numpy_s * n / 2, numpy_s * n / 2,
                        package="numpy", callers=(("numpy/core/x.py:sort", n,
                                                   numpy_s * n / 2, numpy_s * n / 2),)),
    ]
    if helper_s:
        fs.append(FunctionProfile("core/a.py:helper", n, helper_s * n, helper_s * n,
                                  callers=(("core/a.py:run", n, helper_s * n, helper_s * n),)))
    return TimeProfile(benchmark=NAME, calls=calls, functions=tuple(fs))


def test_fold_merges_a_package_and_counts_only_calls_into_it() -> None:
    folded = fold_libraries(profile(10))
    keys = {f.key: f for f in folded.functions}
    assert set(keys) == {"core/a.py:run", "numpy"}
    numpy = keys["numpy"]
    assert numpy.calls == 10  # the internal sort -> _wrap calls are not calls into numpy
    assert numpy.own_s == pytest.approx(0.02)
    assert numpy.cum_s == pytest.approx(0.02)  # not 0.02 + 0.01 counted twice
    assert numpy.callers == (("core/a.py:run", 10, 0.01, 0.02),)


def test_new_quadratic_helper_ranks_first_per_call() -> None:
    base = [profile(100, jitter=j) for j in (0.0, 0.05, -0.05)]
    # Fewer calls fit in the candidate's profiling time: figures are per benchmark call.
    cand = [profile(10, helper_s=0.05, jitter=j) for j in (0.02, -0.03, 0.04)]
    diff = diff_profiles(base, cand)
    top = diff.functions[0]
    assert top.key == "core/a.py:helper" and top.status == "new" and top.beyond_spread
    assert top.delta_own_s == pytest.approx(0.05)
    assert top.candidate_calls == 1.0 and top.base_calls == 0.0
    numpy = next(f for f in diff.functions if f.key == "numpy")
    assert not numpy.beyond_spread and numpy.delta_own_s == pytest.approx(0.0)
    assert diff.candidate_total_s.median > diff.base_total_s.median
    assert diff_profiles(base, cand, fold=False).functions[0].key != "numpy"


def test_changes_within_the_spread_or_below_the_floor_do_not_rank() -> None:
    # run: the repeats overlap; helper: apart, but 0.3 % of the time per call (< 0.5 %)
    base = [profile(10, helper_s=0.010, jitter=j) for j in (0.0, 0.3, -0.3)]
    cand = [profile(10, helper_s=0.01004, jitter=j) for j in (0.1, -0.2, 0.25)]
    assert not any(f.beyond_spread for f in diff_profiles(base, cand).functions)


def test_vanished_function_is_marked() -> None:
    diff = diff_profiles([profile(5, helper_s=0.01)] * 3, [profile(5)] * 3)
    gone = next(f for f in diff.functions if f.key == "core/a.py:helper")
    assert gone.status == "vanished" and gone.delta_own_s == pytest.approx(-0.01)


def test_diff_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="at least one"):
        diff_profiles([], [profile(1)])
    other = TimeProfile(benchmark="other", calls=1, functions=())
    with pytest.raises(InvalidInputError, match="different benchmarks"):
        diff_profiles([profile(1)], [other])
    with pytest.raises(InvalidInputError, match="min_share"):
        diff_profiles([profile(1)], [profile(1)], min_share=1.5)


def memory(calls: int, cache_bytes: int, noise: int) -> MemoryProfile:
    sites = [AllocationSite("core/a.py:12", 100 * calls + noise, calls)]
    if cache_bytes:
        sites.append(AllocationSite("core/cache.py:7", cache_bytes * calls, calls))
    return MemoryProfile(benchmark=NAME, calls=calls, sites=tuple(sites))


def test_cache_that_keeps_every_input_tops_the_memory_diff() -> None:
    rows = diff_memory([memory(20, 0, n) for n in (0, 40, 80)],
                       [memory(7, 5600, n) for n in (10, 30, 60)])
    assert rows[0].site == "core/cache.py:7" and rows[0].status == "new"
    assert rows[0].beyond_spread and rows[0].delta_bytes == pytest.approx(5600)


def test_flame_splits_time_by_call_edges() -> None:
    nodes = build_flame([fold_libraries(profile(4))], [fold_libraries(profile(4, helper_s=0.01))])
    by_path = {n.path: n for n in nodes}
    root = by_path["core/a.py:run"]
    assert root.parent == "" and root.candidate_s == pytest.approx(0.013)
    helper = by_path["core/a.py:run > core/a.py:helper"]
    assert helper.base_s == 0.0 and helper.candidate_s == pytest.approx(0.01)


def test_one_profile_a_side_has_no_spread_so_nothing_ranks_beyond_it() -> None:
    """``profile --repeats 1``: a single profile per side has no range, and every
    function that moved at all (numpy here, by 10 %: noise) was starred as beyond it."""
    base, cand = [profile(10, numpy_s=0.002)], [profile(10, numpy_s=0.0022, helper_s=0.05)]
    diff = diff_profiles(base, cand, base_memory=[memory(20, 0, 0)],
                         candidate_memory=[memory(20, 0, 90)])
    assert diff.repeats == 1
    assert not any(f.beyond_spread for f in diff.functions)
    assert not any(a.beyond_spread for a in diff.allocations)
    assert diff.functions[0].key == "core/a.py:helper"  # still ranked by size
    assert any(f.beyond_spread for f in diff_profiles(base * 3, cand * 3).functions)
