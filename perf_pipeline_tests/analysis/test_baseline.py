"""build_baseline and compare_to_baseline on small synthetic runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from perf_pipeline.analysis import (
    SUITE_SHIFT_NAME,
    build_baseline,
    compare_to_baseline,
    simulate_suites,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    BenchmarkResult,
    CommitInfo,
    Environment,
    RunStatus,
    SuiteRun,
    Verdict,
)

ENV = Environment("3.11.9", "CPython", "Linux", "x86_64", "cpu", 2)


def _run(i: int, samples: np.ndarray, *, extra: float | None = None) -> SuiteRun:
    benches = tuple(
        BenchmarkResult(name=f"test_{j}", samples_s=tuple(samples[j]),
                        extra=(("peak_rss_bytes", extra if j == 0 else 1000.0),)
                        if extra is not None else ())
        for j in range(samples.shape[0]))
    return SuiteRun(run_id=f"run{i}", suite="unit", started_at=f"2024-01-{i + 1:02d}T00:00:00",
                    status=RunStatus.SUCCESS, benchmarks=benches,
                    commit=CommitInfo(sha=f"{i:040x}"), environment=ENV)


def _runs(seed: int, slowdown: float = 1.0, slowed: tuple[int, ...] = (0,)) -> list[SuiteRun]:
    s = simulate_suites(np.random.default_rng(seed), n_trials=1, slowdown=slowdown,
                        slowed=slowed)[0]
    return [_run(i, s[:, i]) for i in range(s.shape[1])]


def test_build_baseline_collects_run_history() -> None:
    runs = _runs(1)
    bl = build_baseline(runs[:-1], created_at="2024-02-01T00:00:00", metrics=("time_s",))
    assert bl.source_run_ids == tuple(f"run{i}" for i in range(10))  # oldest first
    assert len(bl.source_commits) == 10
    e = bl.entry("test_0", "time_s")
    assert e is not None and len(e.run_values) == 10
    assert e.run_values[-1] == pytest.approx(runs[9].benchmark("test_0").median_s)
    assert e.samples == runs[9].benchmark("test_0").samples_s
    assert bl.environment == ENV and bl.policy == "rolling"


def test_build_baseline_keeps_history_order_not_measuring_order() -> None:
    """The tip measured first, its ancestors later (a backfill, a culprit search): the
    newest commit is still the last one given, not the one measured last."""
    runs = _runs(1)[:3]
    measured = [dataclasses.replace(run, started_at=f"2024-03-0{3 - k}T00:00:00")
                for k, run in enumerate(runs)]  # run2 measured first, run0 last
    bl = build_baseline(measured, created_at="2024-04-01T00:00:00", metrics=("time_s",))
    assert bl.source_run_ids == ("run0", "run1", "run2")
    assert bl.source_commits[-1] == runs[2].sha
    assert bl.entry("test_0", "time_s").samples == runs[2].benchmark("test_0").samples_s  # type: ignore[union-attr]


def test_build_baseline_rejects_failed_run() -> None:
    failed = SuiteRun(run_id="bad", suite="unit", started_at="2024-01-01",
                      status=RunStatus.FAILED, error="boom")
    with pytest.raises(InvalidInputError, match="run bad: status is failed"):
        build_baseline([*_runs(1)[:2], failed], created_at="now")


def test_build_baseline_rejects_empty_run_and_no_runs() -> None:
    empty = SuiteRun(run_id="empty", suite="unit", started_at="2024-01-01",
                     status=RunStatus.SUCCESS)
    with pytest.raises(InvalidInputError, match="empty: has no benchmarks"):
        build_baseline([empty], created_at="now")
    with pytest.raises(InvalidInputError, match="`runs`"):
        build_baseline([], created_at="now")


def test_compare_to_baseline_flags_only_the_slowed_benchmark() -> None:
    runs = _runs(2, slowdown=1.3, slowed=(4,))
    bl = build_baseline(runs[:-1], created_at="now", metrics=("time_s",))
    sc = compare_to_baseline(bl, runs[-1])
    assert [r.name for r in sc.regressions] == ["test_4"]
    shift = [r for r in sc.results if r.name == SUITE_SHIFT_NAME]
    assert len(shift) == 1 and shift[0].comparison.verdict != Verdict.REGRESSION
    adjusted = [r.comparison.adjusted_p_value for r in sc.results]
    assert all(p is not None for p in adjusted)


def test_uniform_slowdown_is_reported_as_suite_shift() -> None:
    runs = _runs(3, slowdown=1.4, slowed=tuple(range(50)))
    bl = build_baseline(runs[:-1], created_at="now", metrics=("time_s",))
    sc = compare_to_baseline(bl, runs[-1])
    assert [r.name for r in sc.regressions] == [SUITE_SHIFT_NAME]


def test_new_and_missing_benchmarks_are_listed() -> None:
    runs = _runs(4)
    bl = build_baseline(runs[:-1], created_at="now", metrics=("time_s",))
    last = runs[-1]
    benches = (*last.benchmarks[1:], BenchmarkResult(name="test_new", samples_s=(1.0, 1.1)))
    current = SuiteRun(run_id="cur", suite="unit", started_at="2024-03-01",
                       status=RunStatus.SUCCESS, benchmarks=benches)
    sc = compare_to_baseline(bl, current)
    assert sc.new == ("test_new",)
    assert sc.missing == ("test_0",)


def test_single_baseline_run_falls_back_honestly() -> None:
    runs = _runs(5, slowdown=1.5, slowed=(0,))
    bl = build_baseline(runs[-2:-1], created_at="now", metrics=("time_s",))
    sc = compare_to_baseline(bl, runs[-1])
    first = sc.results[0].comparison
    assert "run-to-run noise unknown" in first.reason
    assert [r.name for r in sc.regressions] == ["test_0"]


def test_other_metric_uses_its_own_threshold() -> None:
    s = simulate_suites(np.random.default_rng(6), n_trials=1)[0]
    mib = 2.0**20
    runs = [_run(i, s[:, i], extra=100 * mib) for i in range(4)]
    runs.append(_run(4, s[:, 4], extra=105 * mib))
    bl = build_baseline(runs[:-1], created_at="now", metrics=("time_s", "peak_rss_bytes"))
    sc = compare_to_baseline(bl, runs[-1], metrics=("peak_rss_bytes",))
    rss = [r for r in sc.results if r.metric == "peak_rss_bytes" and r.name == "test_0"]
    # Memory is deterministic here: +5 % is certain (p = 0) but below the 1.1x gate.
    assert rss[0].comparison.threshold == 1.1
    assert rss[0].comparison.significant
    assert rss[0].comparison.verdict == Verdict.UNCHANGED
    runs[-1] = _run(4, s[:, 4], extra=120 * mib)
    sc = compare_to_baseline(bl, runs[-1], metrics=("peak_rss_bytes",))
    assert [r.name for r in sc.regressions] == ["test_0"]
    # +30 % of 1 MiB is certain and above the threshold, but below the 4 MiB that matter.
    runs = [_run(i, s[:, i], extra=1 * mib) for i in range(4)]
    runs.append(_run(4, s[:, 4], extra=1.3 * mib))
    bl = build_baseline(runs[:-1], created_at="now", metrics=("time_s", "peak_rss_bytes"))
    sc = compare_to_baseline(bl, runs[-1], metrics=("peak_rss_bytes",))
    small = next(r for r in sc.results if r.name == "test_0").comparison
    assert small.verdict == Verdict.UNCHANGED and "minimum that matters" in small.reason


def test_compare_to_baseline_rejects_bad_options() -> None:
    runs = _runs(7)
    bl = build_baseline(runs[:3], created_at="now", metrics=("time_s",))
    with pytest.raises(InvalidInputError, match="`alpha` must be in"):
        compare_to_baseline(bl, runs[-1], alpha=0)
    with pytest.raises(InvalidInputError, match="`threshold`"):
        compare_to_baseline(bl, runs[-1], threshold=0.9)
    with pytest.raises(InvalidInputError, match="unknown metric"):
        compare_to_baseline(bl, runs[-1], metrics=("speed",))
    failed = SuiteRun(run_id="bad", suite="unit", started_at="2024-01-01",
                      status=RunStatus.FAILED)
    with pytest.raises(InvalidInputError, match="run bad: status is failed"):
        compare_to_baseline(bl, failed)


def test_one_busy_baseline_run_does_not_make_every_benchmark_an_improvement() -> None:
    # The only baseline run was measured on a busy machine: everything 1.6x slower.
    s = simulate_suites(np.random.default_rng(11), n_trials=1)[0]
    busy = _run(0, s[:, 0] * 1.6)
    bl = build_baseline([busy], created_at="now", metrics=("time_s",))
    sc = compare_to_baseline(bl, _run(1, s[:, 1]))
    assert not sc.improvements and not sc.regressions
    shift = next(r for r in sc.results if r.name == SUITE_SHIFT_NAME).comparison
    assert shift.verdict == Verdict.INCONCLUSIVE and "machine" in shift.reason
    # A real slowdown of one benchmark is still seen relative to the shift.
    slowed = s[:, 1].copy()
    slowed[3] *= 2.0
    sc = compare_to_baseline(bl, _run(1, slowed))
    assert [r.name for r in sc.regressions] == ["test_3"]


def test_a_benchmark_that_did_not_speed_up_with_the_rest_is_not_a_regression() -> None:
    # The demo case: in the current run 7 of 9 benchmarks are 16 % faster (machine state),
    # 2 unchanged. Relative to the shift those 2 look ~19 % slower; on their own they are
    # not slower at all. A real 40 % slowdown in the same run is still a regression.
    rng = np.random.default_rng(11)
    levels = np.exp(rng.uniform(-7, -3, size=(10, 1)))

    def run(i: int, factor: np.ndarray) -> SuiteRun:
        noise = np.exp(rng.normal(0, 0.01, size=(10, 20)) + rng.normal(0, 0.01, size=(10, 1)))
        return _run(i, levels * factor[:, None] * noise)

    history = [run(i, np.ones(10)) for i in range(4)]
    factor = np.full(10, 0.84)
    factor[[1, 2]] = 1.0  # insensitive to the machine state
    factor[3] = 1.4  # a real slowdown: 40 % slower on its own
    current = run(9, factor)
    result = compare_to_baseline(build_baseline(history, created_at="2024-02-01T00:00:00",
                                                metrics=("time_s",)),
                                 current, threshold=1.1, alpha=0.01)
    verdicts = {r.name: r.comparison for r in result.results}
    assert [r.name for r in result.regressions] == ["test_3"]
    for name in ("test_1", "test_2"):
        assert verdicts[name].verdict == Verdict.INCONCLUSIVE
        assert "relative to the rest of the suite" in verdicts[name].reason
        assert verdicts[name].ratio > 1.1  # what the shift-relative test alone saw


def _loud_machine_runs(skip_run: int | None, rng_seed: int = 0) -> tuple[list[SuiteRun], SuiteRun]:
    """Ten baseline runs whose machine factor swings by 20 % (one value per benchmark),
    ``test_0`` skipped in run ``skip_run``, and a current run with ``test_0`` 30 % slower."""
    rng = np.random.default_rng(rng_seed)
    machine = rng.normal(0, 0.20, 11)
    values = [[(1 + j) * np.exp(machine[r] + rng.normal(0, 0.02)) for j in range(8)]
              for r in range(11)]
    values[10][0] *= 1.3

    def run(r: int) -> SuiteRun:
        benches = tuple(BenchmarkResult(name=f"test_{j}", samples_s=(values[r][j],))
                        for j in range(8) if not (r == skip_run and j == 0))
        return SuiteRun(run_id=f"run{r}", suite="unit", started_at=f"2024-01-{r + 1:02d}",
                        status=RunStatus.SUCCESS, benchmarks=benches)

    return [run(r) for r in range(10)], run(10)


@pytest.mark.parametrize("skip_run", [0, 4, 9])
def test_a_benchmark_skipped_in_one_baseline_run_keeps_the_other_runs_factors(
        skip_run: int) -> None:
    # Each baseline value must meet its own run's machine factor. Lined up with the newest
    # runs instead, a value skipped in run 9 had every older value judged against the next
    # run's factor: a +30 % regression came out inconclusive, [0.85, 2.00].
    full_runs, current = _loud_machine_runs(None)
    full = compare_to_baseline(build_baseline(full_runs, created_at="x", metrics=("time_s",)),
                               current, threshold=1.0)
    runs, current = _loud_machine_runs(skip_run)
    baseline = build_baseline(runs, created_at="x", metrics=("time_s",))
    entry = baseline.entry("test_0", "time_s")
    assert entry.runs == tuple(r for r in range(10) if r != skip_run)
    gapped = compare_to_baseline(baseline, current, threshold=1.0)
    [one] = [r.comparison for r in gapped.results if r.name == "test_0"]
    [ref] = [r.comparison for r in full.results if r.name == "test_0"]
    assert one.verdict is Verdict.REGRESSION
    assert one.ratio == pytest.approx(ref.ratio, rel=0.02)
    assert np.log(one.ci_high / one.ci_low) < 1.25 * np.log(ref.ci_high / ref.ci_low)


def _half_slowed(rng: np.random.Generator, k: float, *, baseline_runs: int, slowed: int = 3
                 ) -> tuple[list[SuiteRun], SuiteRun]:
    """Six benchmarks (1..6 ms, 1 % noise); in the current run the first ``slowed``
    x``k``."""
    def run(i: int, factor: float) -> SuiteRun:
        samples = np.array([(1 + j) * 1e-3 * (factor if j < slowed else 1.0)
                            * np.exp(rng.normal(0, 0.01, 20)) for j in range(6)])
        return _run(i, samples)
    return [run(i, 1.0) for i in range(baseline_runs)], run(baseline_runs, k)


@pytest.mark.parametrize("baseline_runs", [5, 1])
def test_half_the_suite_slower_is_never_cleared_by_the_shift_it_makes(
        baseline_runs: int) -> None:
    """Three of six benchmarks 30 % slower: the median shift took half of it (x1.14),
    and relative to it each read x1.14, "unchanged" at 1.2, as was the shift; the gate
    passed the slowdown. With one baseline run, four of six doubled read x1.0 relative
    to the shift. Own ratio beyond the threshold: the gate says inconclusive, the screen
    flags it for the A/B."""
    from perf_pipeline.analysis.confirmation import screen_run

    k, slowed = (1.3, 3) if baseline_runs > 1 else (2.0, 4)
    history, current = _half_slowed(np.random.default_rng(5), k, baseline_runs=baseline_runs,
                                    slowed=slowed)
    bl = build_baseline(history, created_at="2024-02-01T00:00:00", metrics=("time_s",))
    gate = {r.name: r.comparison for r in compare_to_baseline(bl, current, threshold=1.2).results}
    for j in range(slowed):
        assert gate[f"test_{j}"].verdict is Verdict.INCONCLUSIVE, gate[f"test_{j}"].reason
        assert "beyond the threshold" in gate[f"test_{j}"].reason
    for j in range(slowed, 6):  # the unchanged ones are not blamed
        assert gate[f"test_{j}"].verdict is not Verdict.REGRESSION
    screen = {r.name: r.comparison for r in screen_run(bl, current, threshold=1.2).results}
    flagged = {n for n, c in screen.items() if c.verdict is Verdict.REGRESSION}
    assert flagged >= {f"test_{j}" for j in range(slowed)}
    assert not {f"test_{j}" for j in range(slowed, 6)} & flagged


def test_an_own_ratio_beyond_the_threshold_changes_nothing_at_threshold_one() -> None:
    """At threshold 1 the relative test alone flags (the replayed figures stand)."""
    history, current = _half_slowed(np.random.default_rng(5), 1.3, baseline_runs=5)
    bl = build_baseline(history, created_at="2024-02-01T00:00:00", metrics=("time_s",))
    for r in compare_to_baseline(bl, current, threshold=1.0).results:
        assert "beyond the threshold" not in r.comparison.reason


def _with_metric(i: int, metric: str, values: list[float]) -> SuiteRun:
    rng = np.random.default_rng(i)
    benches = tuple(BenchmarkResult(name=f"test_{j}", samples_s=tuple(
        1e-3 * (1 + j) * np.exp(rng.normal(0, 0.01, 10))), extra=((metric, values[j]),))
        for j in range(len(values)))
    return SuiteRun(run_id=f"run{i}", suite="unit", started_at=f"2024-01-{i + 1:02d}T00:00:00",
                    status=RunStatus.SUCCESS, benchmarks=benches,
                    commit=CommitInfo(sha=f"{i:040x}"), environment=ENV)


def test_a_counter_that_was_zero_can_still_be_flagged() -> None:
    """A 0 in the baseline made the ratio undefined: a benchmark whose traced peak went
    from 0 to 50 MB was "inconclusive: ratio undefined" for ever. A counter at 0 and 0
    stays unchanged; one that flapped between 0 and 1 MB is judged on that spread."""
    metric = "tracemalloc_peak_bytes"
    history = [_with_metric(i, metric, [0.0, 1e6, 0.0, v]) for i, v in enumerate([0, 1e6, 1e6])]
    bl = build_baseline(history, created_at="2024-02-01T00:00:00", metrics=(metric,))
    current = _with_metric(3, metric, [50e6, 1e6, 0.0, 50e6])
    rows = {r.name: r.comparison for r in compare_to_baseline(
        bl, current, metrics=(metric,)).results}
    assert rows["test_0"].verdict is Verdict.REGRESSION, rows["test_0"].reason
    assert "added to every value" in rows["test_0"].reason and rows["test_0"].ratio > 100
    assert rows["test_1"].verdict is not Verdict.REGRESSION
    assert rows["test_2"].verdict is not Verdict.REGRESSION and "added" not in rows[
        "test_2"].reason
    flapping = rows["test_3"]
    assert np.isfinite(flapping.ratio) and flapping.ratio > 10
    assert flapping.verdict in (Verdict.REGRESSION, Verdict.INCONCLUSIVE)
    assert "ratio undefined" not in flapping.reason


def _with_zeros(run: SuiteRun, name: str, zeros: int) -> SuiteRun:
    """``run`` with the fastest ``zeros`` rounds of ``name`` read as 0.0 s (below the
    timer's resolution)."""
    def zeroed(b: BenchmarkResult) -> BenchmarkResult:
        if b.name != name:
            return b
        order = np.argsort(np.asarray(b.samples_s))
        samples = np.asarray(b.samples_s).copy()
        samples[order[:zeros]] = 0.0
        return dataclasses.replace(b, samples_s=tuple(samples))
    return dataclasses.replace(run, benchmarks=tuple(zeroed(b) for b in run.benchmarks))


def _all_finite(comparison) -> bool:
    return all(np.isfinite([r.comparison.ratio, r.comparison.ci_low, r.comparison.p_value,
                            r.comparison.adjusted_p_value]).all()
               for r in comparison.results)


@pytest.mark.parametrize("zeros", [1, 10])  # one round, half of the 20
def test_a_benchmark_with_zero_time_samples_is_left_out_of_judging_and_of_baselines(
        zeros: int) -> None:
    """A 0.0 s round has no logarithm: in the run judged or in the baseline's newest run
    (whose samples give the within-run spread) it made the time statistics NaN or
    infinite. Such a benchmark's time is not judged, nor used as a baseline; the other
    benchmarks are judged as before, with finite statistics."""
    runs = _runs(1)
    runs[9] = _with_zeros(runs[9], "test_0", zeros)  # the baseline's newest run
    current = _with_zeros(runs[10], "test_1", zeros)
    for history in (runs[9:10], runs[:10]):  # one baseline run (assumed CV), and ten
        bl = build_baseline(history, created_at="2024-02-01T00:00:00", metrics=("time_s",))
        entry = bl.entry("test_0", "time_s")
        if len(history) == 1:
            assert entry is None  # no run has a time to judge against
        else:
            assert entry is not None and 9 not in entry.runs and len(entry.run_values) == 9
            assert entry.samples == runs[8].benchmark("test_0").samples_s  # all > 0
        for run in (current, runs[10]):
            comparison = compare_to_baseline(bl, run, threshold=1.2, alpha=0.01)
            judged = {r.name for r in comparison.results}
            assert ("test_1" in judged) is (run is runs[10])
            assert ("test_0" in judged) is (len(history) > 1)
            assert {f"test_{j}" for j in range(2, 5)} <= judged
            assert _all_finite(comparison)
