"""noise_profile: reference values on a hand-made corpus, and a seeded simulation."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from perf_pipeline.analysis import noise_profile, spread_change
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import BenchmarkNoise, NoiseCorpus, NoisePair, NoiseProfile

SHA = "ab" * 20


def corpus_of(a: list[list[list[float]]], b: list[list[list[float]]],
              names: tuple[str, ...]) -> NoiseCorpus:
    pairs = tuple(NoisePair(order=("a", "b"), started_at=f"2026-01-01T00:{i:02d}:00+00:00",
                            a=tuple(map(tuple, pa)), b=tuple(map(tuple, pb)))
                  for i, (pa, pb) in enumerate(zip(a, b, strict=True)))
    return NoiseCorpus(suite="benchmarks", commit=SHA, recorded_at=pairs[0].started_at,
                       machine=(("cpu_count", "2"),), note="", benchmarks=names, pairs=pairs)


def test_reference_values_on_a_small_corpus() -> None:
    # 3 pairs x 3 benchmarks; medians of odd-length sample lists are their middle values.
    a = [[[1.0, 1.1, 0.9], [2.0], [4.0]],
         [[1.2], [2.0, 2.5, 1.5], [4.4]],
         [[0.9], [2.2], [3.6]]]
    b = [[[1.1], [2.1], [4.0]],
         [[1.0], [2.4], [4.0]],
         [[1.0], [2.0], [4.2]]]
    profile = noise_profile(corpus_of(a, b, ("x", "y", "z")))
    med_a = np.log([[statistics.median(s) for s in p] for p in a])
    med_b = np.log([[statistics.median(s) for s in p] for p in b])
    ratios = med_b - med_a
    suite = [statistics.median(row) for row in ratios]
    assert profile.pairs == 3 and profile.commit == SHA and profile.notes == ()
    assert profile.suite_factor_log_sd == pytest.approx(statistics.stdev(suite))
    for j, bench in enumerate(profile.benchmarks):
        column = [*med_a[:, j], *med_b[:, j]]
        assert bench.unpaired_log_sd == pytest.approx(statistics.stdev(column))
        assert bench.paired_log_sd == pytest.approx(statistics.stdev(ratios[:, j]))
        assert bench.paired_residual_log_sd == pytest.approx(
            statistics.stdev(ratios[i, j] - suite[i] for i in range(3)))
        assert bench.median_s == pytest.approx(math.exp(statistics.median(column)))


def test_a_pure_suite_factor_leaves_no_residual() -> None:
    # every benchmark of a process moves by the same factor: all paired noise is suite-wide
    factors = [(1.0, 1.1), (1.2, 0.9), (0.95, 1.0)]
    a = [[[fa * base] for base in (1.0, 2.0, 3.0)] for fa, _ in factors]
    b = [[[fb * base] for base in (1.0, 2.0, 3.0)] for _, fb in factors]
    profile = noise_profile(corpus_of(a, b, ("x", "y", "z")))
    assert profile.suite_factor_log_sd > 0.1
    for bench in profile.benchmarks:
        assert bench.paired_residual_log_sd == pytest.approx(0.0, abs=1e-12)
        assert bench.paired_log_sd == pytest.approx(profile.suite_factor_log_sd)


def test_recovers_known_spreads_in_a_seeded_simulation() -> None:
    rng = np.random.default_rng(20261130)
    n_pairs, n_bench, suite_sd, bench_sd = 400, 20, 0.05, 0.10
    names = tuple(f"b{j:02d}" for j in range(n_bench))
    level = np.exp(rng.normal(-6, 1, n_bench))

    def process() -> list[list[float]]:
        factor = rng.normal(0, suite_sd)
        effects = rng.normal(0, bench_sd, n_bench)
        # a few samples per process around its own level: within-process noise is small
        return [list(level[j] * np.exp(factor + effects[j] + rng.normal(0, 0.005, 5)))
                for j in range(n_bench)]

    a = [process() for _ in range(n_pairs)]
    b = [process() for _ in range(n_pairs)]
    profile = noise_profile(corpus_of(a, b, names))
    unpaired = np.median([x.unpaired_log_sd for x in profile.benchmarks])
    paired = np.median([x.paired_log_sd for x in profile.benchmarks])
    residual = np.median([x.paired_residual_log_sd for x in profile.benchmarks])
    assert unpaired == pytest.approx(math.hypot(suite_sd, bench_sd), rel=0.1)
    assert paired == pytest.approx(math.sqrt(2) * math.hypot(suite_sd, bench_sd), rel=0.1)
    # the median over 20 benchmarks takes most of the suite factor out, and a little noise
    assert 0.85 * math.sqrt(2) * bench_sd < residual < 1.05 * math.sqrt(2) * bench_sd
    assert 0.9 * math.sqrt(2) * suite_sd < profile.suite_factor_log_sd < 0.1


def test_degenerate_corpora_give_nan_and_a_note() -> None:
    one_pair = noise_profile(corpus_of([[[1.0], [2.0]]], [[[1.1], [2.1]]], ("x", "y")))
    assert math.isnan(one_pair.suite_factor_log_sd)
    assert math.isnan(one_pair.benchmarks[0].paired_log_sd)
    assert one_pair.benchmarks[0].unpaired_log_sd > 0  # two processes show it
    assert "one pair only" in one_pair.notes[0]
    one_bench = noise_profile(corpus_of([[[1.0]], [[1.2]]], [[[1.1]], [[1.0]]], ("x",)))
    assert math.isnan(one_bench.benchmarks[0].paired_residual_log_sd)
    assert one_bench.benchmarks[0].paired_log_sd > 0
    assert "one benchmark only" in one_bench.notes[0]


def test_rejects_what_is_not_a_corpus() -> None:
    with pytest.raises(InvalidInputError, match="`corpus` must be a NoiseCorpus"):
        noise_profile({"pairs": []})  # type: ignore[arg-type]


def _profile(spreads: dict[str, float]) -> NoiseProfile:
    return NoiseProfile(
        suite="benchmarks", commit=SHA, machine=(("cpu_count", "2"),),
        recorded_at="2026-01-01T00:00:00+00:00", pairs=20, suite_factor_log_sd=0.1,
        benchmarks=tuple(BenchmarkNoise(name=n, median_s=1e-3, unpaired_log_sd=0.2,
                                        paired_log_sd=0.2, paired_residual_log_sd=v)
                         for n, v in spreads.items()))


def test_spread_change_is_the_median_ratio_over_the_benchmarks_both_recordings_have(
        ) -> None:
    old = _profile({"a": 0.02, "b": 0.04, "c": 0.10, "gone": 0.05, "flat": 0.0})
    new = _profile({"a": 0.06, "b": 0.10, "c": 0.20, "added": 0.5, "flat": 0.01,
                    "nan": math.nan})
    change = spread_change(new, old)
    assert change is not None and change.benchmarks == 3  # a, b, c: flat had no spread
    assert change.ratio == pytest.approx(2.5)  # median of 3.0, 2.5, 2.0
    assert spread_change(old, old).ratio == pytest.approx(1.0)
    assert spread_change(_profile({"x": 0.1}), old) is None
