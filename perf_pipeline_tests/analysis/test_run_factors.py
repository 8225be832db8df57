"""Suite factors out of histories: what the machine did to a whole run is divided out,
what one benchmark did stays; on replayed real noise this is what brings the history
alarms (change points and drifts together) down to the 5 % target with one process per
commit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.analysis import (
    NoiseRecording,
    detect_change_points,
    factor_free_series,
    run_factors,
    unexplained_drifts,
)
from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.model import MetricSeries

CORPUS = (Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "noise"
          / "example-suite-pinned.json.gz")


def test_a_slow_run_is_divided_out_and_a_slow_benchmark_is_not() -> None:
    rng = np.random.default_rng(0)
    logs = rng.normal(0, 0.01, (8, 6)) + np.log([1, 2, 3, 4, 5, 6])
    logs[3] += math.log(1.3)  # the whole run slow: the machine
    logs[5:, 2] += math.log(1.5)  # one benchmark slower from run 5 on: the code
    f = run_factors(logs)
    assert abs(f[3] - math.log(1.3)) < 0.02 and np.all(np.abs(np.delete(f, 3)) < 0.02)
    adjusted = logs - f[:, None]
    assert abs(adjusted[6, 2] - adjusted[1, 2] - math.log(1.5)) < 0.05


def test_runs_with_too_few_benchmarks_keep_their_values() -> None:
    logs = np.log(np.array([[1.0, 2.0, np.nan, np.nan, np.nan, np.nan],
                            [1.3, 2.6, 3.9, 5.2, 6.5, 7.8],
                            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]))
    f = run_factors(logs)
    assert f[0] == 0.0 and f[1] > 0.1


def test_factor_free_series_matches_runs_by_id() -> None:
    names = [f"b{i}" for i in range(5)]
    series = [MetricSeries(name=n, metric="time_s", run_ids=("r1", "r2", "r3"),
                           values=(1.0, 2.0, 1.0), lows=(0.9, 1.8, 0.9),
                           highs=(1.1, 2.2, 1.1)) for n in names]
    # b0 misses r1: its run ids are a subset, and its values still line up.
    series[0] = MetricSeries(name="b0", metric="time_s", run_ids=("r2", "r3"),
                             values=(2.0, 1.0), lows=(2.0, 1.0), highs=(2.0, 1.0))
    series.append(MetricSeries(name="b0", metric="peak_rss_bytes", run_ids=("r1",),
                               values=(5.0,), lows=(5.0,), highs=(5.0,)))
    out = factor_free_series(series)
    assert [s.name for s in out] == names  # the time series only
    assert out[0].values == pytest.approx((1.0, 1.0)) and out[1].values == pytest.approx(
        (1.0, 1.0, 1.0))
    assert out[1].lows == pytest.approx((0.9, 0.9, 0.9))


@pytest.mark.slow
def test_real_noise_alarms_rarely_and_ramps_are_found_once_factors_are_out() -> None:
    """Held-out seed (the study, benchmarks/history_factor.py, used 100 and 200): on the
    committed real-noise corpus, one process per commit. Raw, the same replay alarms in
    12–16 % of flat histories; factor-free the study measures 0.03–0.04 (target 0.05)
    and finds 0.91–0.92 of 10 % ramps (target 0.60); here 0.025 and 0.93."""
    from perf_pipeline.store import load_noise_corpus  # the test, not analysis, reads files

    log_med = NoiseRecording.from_corpus(load_noise_corpus(CORPUS)).log_medians()
    rng = np.random.default_rng(731)
    trials, flat, ramps = 200, 0, 0
    for _ in range(trials):
        v = replay_history(log_med, rng, remove_suite_factor=True)
        shifts = detect_change_points(v)
        flat += bool(shifts or unexplained_drifts(v, shifts))
        at = int(rng.integers(15, 95))
        v = inject(replay_history(log_med, rng, remove_suite_factor=True), kind="ramp",
                   at=at, ratio=1.10)
        shifts = detect_change_points(v)
        ramps += (any(d.start <= at + 10 and d.end >= at
                      for d in unexplained_drifts(v, shifts))
                  or any(at - 2 <= s.index <= at + 12 for s in shifts))
    assert flat / trials <= 0.05
    assert ramps / trials >= 0.70


@pytest.mark.slow
def test_the_readme_history_table_is_what_its_command_prints() -> None:
    """The README's "Without the machine's mood" table says it is
    ``benchmarks/history_factor.py 300 SEED`` at seeds 100 and 200 ("a / b" per cell);
    four of its cells had gone stale after the detector changed (0.92 quoted, 0.91 printed)."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "history_factor.py"
    spec = importlib.util.spec_from_file_location("history_factor", script)
    assert spec is not None and spec.loader is not None
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    log_med = NoiseRecording.from_corpus(study.load_noise_corpus(CORPUS)).log_medians()
    factor = run_factors(log_med)[:, None]
    for label, src, remove in (("raw", log_med, False), ("**factor-free**", log_med, True),
                               ("the factor itself", factor, False)):
        by_seed = [study.rates(src, seed, 300, remove=remove) for seed in (100, 200)]
        cells = [f"{a:.2f} / {b:.2f}" for a, b in zip(*(r.values() for r in by_seed),
                                                        strict=True)]
        line = next(x for x in readme.splitlines() if x.startswith(f"| {label} |"))
        quoted = [c.strip().strip("*") for c in line.strip("| ").split("|")[1:]]
        assert quoted == cells, label
