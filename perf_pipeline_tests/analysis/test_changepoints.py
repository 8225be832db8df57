"""Change points: found where they are, placed on the right commit, never made by a spike.

Unit tests on hand-made series, then the targets of the history statistics on histories
replayed (``analysis.histories``) from a synthetic recording (``simulate_recording``,
``NoiseModel`` defaults: per-process noise about 3.4 %, pairs of processes sharing a
machine factor, random-walk drift). Seeds here are not the ones the study
(``benchmarks/changepoints.py``, seed 1) or the tuning used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.analysis import (
    NoiseRecording,
    change_points_of,
    detect_change_points,
    drift_ratio,
    drifts_of,
    run_factors,
    unexplained_drifts,
)
from perf_pipeline.analysis.changepoints import MIN_RATIO
from perf_pipeline.analysis.histories import inject, replay_history
from perf_pipeline.analysis.series import pool_runs_by_commit
from perf_pipeline.analysis.simulation import NoiseModel, simulate_recording
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import LevelShift

TRIALS = 150


def _noise(seed: int, n: int = 60, cv: float = 0.03) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, cv, n))


# --- unit tests ----------------------------------------------------------------------

def test_a_clear_step_is_placed_exactly_with_its_size_and_interval() -> None:
    values = _noise(1)
    values[30:] *= 1.10
    (shift,) = detect_change_points(values)
    assert isinstance(shift, LevelShift)
    assert shift.index == 30
    assert shift.ratio_low < shift.ratio < shift.ratio_high
    assert shift.ratio_low <= 1.10 <= shift.ratio_high
    assert shift.p_value < 0.01


def test_flat_noise_has_no_change_point() -> None:
    assert detect_change_points(_noise(2, 200)) == ()


@pytest.mark.parametrize("at", [10, 25, 47])
@pytest.mark.parametrize("size", [1.3, 3.0, 0.7])
def test_a_single_spike_does_not_make_a_change_point(at: int, size: float) -> None:
    values = _noise(3)
    values[at] *= size
    assert detect_change_points(values) == ()


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
@pytest.mark.parametrize("size", [1.3, 0.7])
def test_a_spike_next_to_a_step_does_not_move_it(offset: int, size: float) -> None:
    values = _noise(4)
    values[30:] *= 1.10
    values[30 + offset] *= size
    assert [s.index for s in detect_change_points(values)] == [30]


def test_a_spike_just_before_a_step_in_its_direction_does_not_start_the_level() -> None:
    values = _noise(5)
    values[30:] *= 1.10
    values[29] *= 1.3
    assert [s.index for s in detect_change_points(values)] == [30]


@pytest.mark.parametrize("before", [0.94, 0.97, 1.04])
def test_on_a_quiet_history_the_last_old_commit_stays_on_the_old_level(before: float) -> None:
    """1 % noise: the commit before a +40 % step lies a few scales off the old level and
    beyond the cap from both, so both placements cost the same; it was put on the new
    level (one commit early, in reports, alerts and the culprit search) in 48-84 % of
    such histories."""
    early = 0
    for seed in range(40):
        values = _noise(100 + seed, 40, cv=0.01)
        values[20:] *= 1.4
        values[19] *= before
        early += [s.index for s in detect_change_points(values)] != [20]
    assert early == 0


def test_a_new_level_must_last_more_than_one_commit_past_its_start() -> None:
    values = _noise(6)
    values[30:32] *= 1.3  # two slow commits are not a level
    assert detect_change_points(values) == ()


def test_a_small_certain_step_counts_and_min_ratio_judges_its_interval() -> None:
    values = [1.0] * 10 + [1.05] * 10  # certain, and 5 %
    assert [s.index for s in detect_change_points(values)] == [10]
    assert detect_change_points(values, min_ratio=1.06) == ()


def test_several_steps_are_all_found() -> None:
    values = _noise(7, 90)
    values[30:] *= 1.2
    values[60:] /= 1.2 * 1.1
    assert [s.index for s in detect_change_points(values)] == [30, 60]


def _random_multistep(rng: np.random.Generator) -> np.ndarray:
    """A history of 20-200 commits with up to five steps, sometimes a ramp, 1-5 % noise."""
    n = int(rng.integers(20, 200))
    level = np.zeros(n)
    for _ in range(int(rng.integers(0, 6))):
        level[int(rng.integers(1, n)):] += rng.normal(0, 0.1)
    if rng.random() < 0.3:
        start, length = int(rng.integers(0, n - 10)), int(rng.integers(3, 20))
        level[start:] += np.minimum(np.arange(n - start) / length, 1.0) * rng.normal(0, 0.1)
    return np.exp(level + rng.normal(0, float(rng.choice([0.01, 0.03, 0.05])), n))


@pytest.mark.slow
def test_every_change_point_reported_holds_where_it_was_finally_placed() -> None:
    # A point found between two real steps was placed again between its final neighbours,
    # on a flat stretch, and reported unchecked there: a step of 1.009 with an interval
    # holding 1 (9 of 3000 such histories, seed 11; none since). Seed 5: not tuned on.
    rng = np.random.default_rng(5)
    for _ in range(2000):
        values = _random_multistep(rng)
        shifts = detect_change_points(values)
        bounds = [0, *(s.index for s in shifts), values.size]
        assert bounds == sorted(bounds) and min(np.diff(bounds)) >= 5
        for s in shifts:
            assert s.ratio_low >= MIN_RATIO or s.ratio_high <= 1 / MIN_RATIO, (values, s)


def test_no_step_is_reported_on_the_flat_stretch_between_two_steps() -> None:
    rng = np.random.default_rng(12)
    for _ in range(200):
        v = np.exp(rng.normal(0, 0.01, 140))
        v[50:] *= 1.1
        v[90:] *= 1.1
        assert [s.index for s in detect_change_points(v)] == [50, 90]


def test_replicates_per_commit_are_all_used() -> None:
    rng = np.random.default_rng(8)
    reps = np.exp(rng.normal(0.0, 0.06, (60, 3)))
    reps[30:] *= 1.08
    found = [s.index for s in detect_change_points(reps)]
    assert found == [30]
    # the same as one median per commit, and ragged replicates work too
    medians = np.exp(np.median(np.log(reps), axis=1))
    assert [s.index for s in detect_change_points(medians)] == found
    ragged = [list(r[: 1 + i % 3]) for i, r in enumerate(reps)]
    assert all(isinstance(s, LevelShift) for s in detect_change_points(ragged))


def test_more_replicates_find_a_step_one_process_misses() -> None:
    hits = {1: 0, 3: 0}
    for seed in range(30):
        reps = np.exp(np.random.default_rng(100 + seed).normal(0.0, 0.08, (60, 3)))
        reps[30:] *= 1.06
        for k in hits:
            hits[k] += any(abs(s.index - 30) <= 2 for s in detect_change_points(reps[:, :k]))
    assert hits[3] >= hits[1] + 5


def test_labelled_change_points_carry_run_and_ratio() -> None:
    values = [1.0, 1.01, 0.99, 1.0, 1.02, 1.0, 0.98, 1.01, 1.0, 0.99,
              2.0, 2.02, 1.98, 2.0, 2.01, 1.99, 2.03, 2.0, 1.99, 2.01]
    (cp,) = change_points_of("b", "time_s", [f"r{i}" for i in range(20)], values)
    assert cp.run_id == "r10" and cp.ratio == pytest.approx(2.0, rel=0.03)


def test_runs_of_one_commit_are_pooled_into_one_point_before_detection() -> None:
    """The newest commit, slow, measured eight times (re-runs, replicate jobs) is one
    point of the history: counted run by run it would be a new level of eight commits."""
    rng = np.random.default_rng(9)
    commits = [f"c{i}" for i in range(40)] + ["c40"] * 8
    values = np.exp(rng.normal(0.0, 0.02, len(commits)))
    values[40:] *= 1.3
    run_ids = [f"r{i}" for i in range(len(commits))]
    assert [cp.run_id for cp in change_points_of("b", "time_s", run_ids, values)] == ["r40"]
    assert change_points_of("b", "time_s", run_ids, values, commits=commits) == ()
    assert drifts_of("b", "time_s", run_ids, values, commits=commits) == ()


def test_a_step_found_on_pooled_runs_is_labelled_with_the_commits_newest_run() -> None:
    rng = np.random.default_rng(10)
    commits = [f"c{i}" for i in range(30) for _ in range(1 + (i == 15) * 2)]  # c15: 3 runs
    values = np.exp(rng.normal(0.0, 0.02, len(commits)))
    first = commits.index("c15")
    values[first:] *= 1.2
    run_ids = [f"r{i}" for i in range(len(commits))]
    (cp,) = change_points_of("b", "time_s", run_ids, values, commits=commits)
    assert cp.run_id == f"r{first + 2}" and cp.ratio == pytest.approx(1.2, rel=0.05)


def test_pooling_keeps_first_run_order_skips_bad_values_and_checks_lengths() -> None:
    hist = pool_runs_by_commit("b", ["r1", "r2", "r3", "r4", "r5"],
                               [1.0, 2.0, float("nan"), 3.0, -1.0],
                               ["a", "b", "a", "a", "c"])
    assert hist.labels == ("r4", "r2") and hist.replicates == ((1.0, 3.0), (2.0,))
    with pytest.raises(InvalidInputError, match="differ in length"):
        pool_runs_by_commit("b", ["r1", "r2"], [1.0, 2.0], ["a"])


def test_drift_ratio_sees_a_slow_climb() -> None:
    values = np.linspace(1.0, 1.3, 30) * np.exp(np.random.default_rng(1).normal(0, 0.01, 30))
    assert drift_ratio(values) == pytest.approx(1.3, rel=0.05)


def test_short_histories_give_nothing_rather_than_an_error() -> None:
    assert detect_change_points([]) == ()
    assert detect_change_points([1.0, 2.0, 3.0]) == ()


def test_change_points_reject_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="`min_size`"):
        detect_change_points([1.0] * 10, min_size=1)
    with pytest.raises(InvalidInputError, match="`min_ratio`"):
        detect_change_points([1.0] * 10, min_ratio=0.9)
    with pytest.raises(InvalidInputError, match="`alpha`"):
        detect_change_points([1.0] * 10, alpha=1.0)


@pytest.mark.parametrize("values", [[1.0, float("nan"), 2.0], [1.0, -1.0], [[1.0], []],
                                    [[1.0, 2.0], [1.0, float("inf")]], "abc", 3.0])
def test_change_points_reject_bad_values(values: object) -> None:
    with pytest.raises(InvalidInputError, match="`values`"):
        detect_change_points(values)  # type: ignore[arg-type]


# --- targets, on replayed synthetic histories ------------------------------------------

@pytest.fixture(scope="module")
def recording():
    return simulate_recording(np.random.default_rng(2024), n_pairs=200,
                              model=NoiseModel(n_benchmarks=10)).log_medians()


def _rates(recording, seed: int, kind: str | None, ratio: float, per_commit: int = 1
           ) -> tuple[float, float]:
    """(share found within 2 commits, share placed exactly) over TRIALS histories."""
    rng = np.random.default_rng(seed)
    near = exact = 0
    for _ in range(TRIALS):
        values = replay_history(recording, rng, processes_per_commit=per_commit)
        at = int(rng.integers(15, 105))
        if kind is not None:
            values = inject(values, kind=kind, at=at, ratio=ratio)
        found = [s.index for s in detect_change_points(values)]
        near += any(abs(k - at) <= 2 for k in found) if kind else bool(found)
        exact += at in found
    return near / TRIALS, exact / TRIALS


def test_flat_histories_rarely_get_a_change_point(recording) -> None:
    false_alarms, _ = _rates(recording, 31, None, 1.0)
    assert false_alarms <= 0.03  # target 5 %


def test_a_10_percent_step_is_found_and_placed(recording) -> None:
    near, exact = _rates(recording, 32, "step", 1.10)
    assert near >= 0.85  # target 85 %
    assert exact >= 0.65  # target 70 %; measured 0.73 in the study


def test_a_10_percent_improvement_is_found_too(recording) -> None:
    near, _ = _rates(recording, 33, "step", 1 / 1.10)
    assert near >= 0.85


def test_a_20_percent_step_is_always_found(recording) -> None:
    near, exact = _rates(recording, 34, "step", 1.20)
    assert near >= 0.97 and exact >= 0.9


def test_single_spikes_are_not_flagged(recording) -> None:
    flagged, _ = _rates(recording, 35, "spike", 1.30)
    assert flagged <= 0.02  # target 5 %


# --- targets, on replayed REAL noise (the committed corpus, suite factor removed) -------

CORPUS = (Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "noise"
          / "example-suite-pinned.json.gz")


@pytest.fixture(scope="module")
def real_noise() -> np.ndarray:
    """(processes, benchmarks) log medians of the committed corpus, each process divided
    by its suite factor, as the reports and the culprit search judge histories."""
    from perf_pipeline.store import load_noise_corpus  # the test, not analysis, reads files

    log_med = NoiseRecording.from_corpus(load_noise_corpus(CORPUS)).log_medians()
    return log_med - run_factors(log_med)[:, None]


@pytest.mark.slow
def test_real_noise_steps_flats_spikes_and_ramps(real_noise) -> None:
    """Held-out seed (tuned on seeds 100-400, the study uses seed 1): one process per
    commit, 400 histories per scenario. Measured here: flat any alarm 0.025, +10 % step
    within 2 commits 0.81, exact 0.55, spikes flagged 0.0025, ramps found 0.93. Targets:
    flat <= 0.05 (met), +10 % step 0.85 / 0.70 (not met: an oracle that knows both levels
    and the noise density reaches about 0.86 / 0.61 on this corpus, benchmarks/
    changepoints.py --per-benchmark), spikes <= 0.05 (met), ramps >= 0.60 (met)."""
    rng = np.random.default_rng(5151)
    trials, flat, near, exact, spike, ramp = 400, 0, 0, 0, 0, 0
    for _ in range(trials):
        v = replay_history(real_noise, rng)
        shifts = detect_change_points(v)
        flat += bool(shifts or unexplained_drifts(v, shifts))
        at = int(rng.integers(15, 95))
        v = inject(replay_history(real_noise, rng), kind="ramp", at=at, ratio=1.10)
        shifts = detect_change_points(v)
        ramp += (any(d.start <= at + 10 and d.end >= at for d in unexplained_drifts(v, shifts))
                 or any(at - 2 <= s.index <= at + 12 for s in shifts))
        at = int(rng.integers(20, 100))
        v = inject(replay_history(real_noise, rng), kind="step", at=at, ratio=1.10)
        found = [abs(s.index - at) for s in detect_change_points(v)]
        near += any(d <= 2 for d in found)
        exact += 0 in found
        at = int(rng.integers(15, 105))
        v = inject(replay_history(real_noise, rng), kind="spike", at=at, ratio=1.30)
        spike += any(abs(s.index - at) <= 2 for s in detect_change_points(v))
    assert flat / trials <= 0.045
    assert near / trials >= 0.76
    assert exact / trials >= 0.50
    assert spike / trials <= 0.02
    assert ramp / trials >= 0.85


@pytest.mark.slow
def test_real_noise_with_three_processes_per_commit_meets_the_step_targets(real_noise) -> None:
    """Three processes per commit, pooled (the median of their logs), held-out seed, 300
    histories: measured flat 0.00, +10 % step within 2 commits 0.94, exact 0.80 (the
    study, seed 1: 0.00 / 0.97 / 0.84; other held-out seeds 0.93-0.96 / 0.74-0.75).
    Targets 0.05 / 0.85 / 0.70: met with replicates."""
    rng = np.random.default_rng(5252)
    trials, flat, near, exact = 300, 0, 0, 0
    for _ in range(trials):
        v = replay_history(real_noise, rng, processes_per_commit=3)
        shifts = detect_change_points(v)
        flat += bool(shifts or unexplained_drifts(v, shifts))
        at = int(rng.integers(20, 100))
        v = inject(replay_history(real_noise, rng, processes_per_commit=3), kind="step",
                   at=at, ratio=1.10)
        found = [abs(s.index - at) for s in detect_change_points(v)]
        near += any(d <= 2 for d in found)
        exact += 0 in found
    assert flat / trials <= 0.02
    assert near / trials >= 0.88
    assert exact / trials >= 0.70  # the target itself; measured 0.80 here


def test_levels_whose_ratio_is_no_float_are_refused_not_an_overflow() -> None:
    """1e-300 then 1e300: each finite and positive; the step between them raised
    OverflowError (exit 3 in the CLI) from deep in the scan."""
    from perf_pipeline.analysis.changepoints import drift_ratio

    with pytest.raises(InvalidInputError, match="beyond what a float holds"):
        detect_change_points([1e-300] * 20 + [1e300] * 20)
    assert drift_ratio([1.0] * 20 + [1e300] * 20) > 1e100  # within a float: a number


# --- a level that goes and comes back (a slowdown fixed later) ---------------------------

@pytest.mark.parametrize("length", [15, 20, 30])
@pytest.mark.parametrize("ratio", [1.3, 1 / 1.3])
def test_a_change_undone_later_is_two_change_points_on_its_ends(length: int, ratio: float
                                                               ) -> None:
    """The history review's case: +30 % for ``length`` commits with as many at the old
    level either side, 1-2 % noise. One split is weak against it (every split mixes both
    levels on one side): 0 of 50 such histories had any change point at length 15, 10 of
    50 at 20. Now both ends in nearly all (239 of these 240 histories within a commit; the
    one left has a serial correlation that widens its scan by 1.38)."""
    near = exact = 0
    for seed in range(40):
        noise = 0.01 if seed % 2 else 0.02
        values = inject(np.exp(np.random.default_rng(seed).normal(0.0, noise, 3 * length)),
                        kind="pulse", at=length, ratio=ratio, length=length)
        found = [s.index for s in detect_change_points(values)]
        near += (len(found) == 2 and abs(found[0] - length) <= 1
                 and abs(found[1] - 2 * length) <= 1)
        exact += found == [length, 2 * length]
    assert near >= 38
    assert exact >= 34


@pytest.mark.parametrize("seed", range(20))
def test_a_short_burst_makes_no_pulse(seed: int) -> None:
    """Three slow commits in a row (a noisy neighbour for a few minutes) are shorter than
    ``min_size`` (5): neither the pulse scan nor a split may take them for a level."""
    values = _noise(seed, 60, 0.02)
    values[30:33] *= 2.0
    assert detect_change_points(values) == ()


@pytest.mark.slow
def test_real_noise_a_slowdown_fixed_later_is_found(real_noise) -> None:
    """Held-out seed, one process per commit, suite factor removed, 300 histories: +20 %
    for 15 commits, then fixed. Before the pulse scan 0.04-0.06 of them had a change point
    within 2 commits of either end (seeds 7 and 8); with it 0.87-0.92, both ends
    0.79-0.81. Measured here: 0.91 and 0.79."""
    rng = np.random.default_rng(6161)
    trials, either, both = 300, 0, 0
    for _ in range(trials):
        at = int(rng.integers(15, 90))
        v = inject(replay_history(real_noise, rng), kind="pulse", at=at, ratio=1.20,
                   length=15)
        found = [s.index for s in detect_change_points(v)]
        start = any(abs(k - at) <= 2 for k in found)
        end = any(abs(k - at - 15) <= 2 for k in found)
        either += start or end
        both += start and end
    assert either / trials >= 0.80
    assert both / trials >= 0.70


def test_a_reverted_speedup_found_by_the_split_scan_keeps_both_ends() -> None:
    """A speedup (x0.8, 12 commits) reverted to a level a little under the old one: the
    split scan finds its start first, and the level after it (the pulse and the commits
    after the revert, mixed) lay between the two, so every commit of the pulse counted as
    a spike. The change point moved onto the last old-level commit (10), which then
    spoiled the scan of the rest: one change point, one commit early, and no revert."""
    values = [1.012, 1.017, 1.023, 0.995, 1.01, 1.049, 1.002, 1.006, 1.019, 0.999, 1.022,
              0.821, 0.812, 0.805, 0.828, 0.776, 0.804, 0.81, 0.832, 0.816, 0.773, 0.852,
              0.829, 0.986, 0.989, 0.983, 1.001, 0.989, 0.989, 0.989, 0.994, 0.982, 0.986,
              0.989, 0.978]
    found = detect_change_points(values)
    assert [s.index for s in found] == [11, 23]
    assert found[0].ratio < 0.85 and found[1].ratio > 1.15


@pytest.mark.parametrize("after_fix", [4, 5])
def test_a_slowdown_stays_reported_while_its_fix_is_too_recent_to_judge(after_fix: int
                                                                         ) -> None:
    """x1.22 from commit 16, fixed at 29: the slowdown was a change point up to the fix,
    and again once 6 commits followed it, but with 4 or 5 it was judged against the
    whole rest of the history, fixed commits included, no longer held, and vanished;
    meanwhile the drift scan announced the rise as a drift from the history's start."""
    values = [1.017, 1.022, 1.023, 1.015, 1.015, 1.048, 1.011, 1.016, 1.022, 1.021, 1.022,
              1.022, 1.017, 1.006, 1.028, 0.97, 1.23, 1.248, 1.248, 1.294, 1.271, 1.198,
              1.301, 1.272, 1.216, 1.25, 1.227, 1.229, 1.224, 1.021, 0.984, 0.986, 0.986,
              0.992]
    found = detect_change_points(values[:29 + after_fix])
    assert [s.index for s in found] == [16]
    assert 1.15 < found[0].ratio < 1.3
    assert [s.index for s in detect_change_points(values[:29])] == [16]


# --- a slowdown landed again after its revert (four levels) ---------------------------


def _relanded(seed: int, after: int) -> np.ndarray:
    """x1.25 for 16 commits from 11, reverted for 12, landed again at 39 for ``after``
    commits; 2 % noise."""
    values = _noise(seed, 39 + after, cv=0.02)
    values[11:27] *= 1.25
    values[39:] *= 1.25
    return values


@pytest.mark.parametrize("after", [10, 20])
def test_a_slowdown_landed_again_after_its_revert_is_found_with_both_earlier_ends(
        after: int) -> None:
    """Every split and every pulse of the whole history mixes two of the four levels on
    one side, so once the re-land had 10 commits the history had no change point at all:
    the slowdown and its revert, reported until then, vanished, and the re-land was found
    8-37 commits late. Now the history is also scanned as it was a few commits ago. Old
    code, these seeds: all three ends exactly in 2 and 11 of 20; now 19 and 20."""
    exact = sum([s.index for s in detect_change_points(_relanded(seed, after))]
                == [11, 27, 39] for seed in range(200, 220))
    assert exact >= 16


def test_a_relanded_slowdown_keeps_its_earlier_ends_while_too_recent_to_judge() -> None:
    """Four commits into the re-land it cannot be judged yet; the slowdown and its revert
    stay reported meanwhile (the old code reported nothing)."""
    assert [s.index for s in detect_change_points(_relanded(201, 4))] == [11, 27]


@pytest.mark.slow
def test_real_noise_a_slowdown_landed_again_is_found_soon(real_noise) -> None:
    """Held-out seed, one process per commit, suite factor removed, 300 histories of 120
    commits: +20 % for 15 commits, reverted for 12, then landed again 10-25 commits
    before the history's end. Re-land within 2 commits: 0.583 before the scan of the
    history as it was and with it; all three ends 0.547 (measured here). On this noise
    the 12 reverted commits are what is hard to see, not the four levels; the test guards
    against losing what is found."""
    rng = np.random.default_rng(6464)
    trials, again, three = 300, 0, 0
    for _ in range(trials):
        at = 120 - 27 - int(rng.integers(10, 26))
        v = inject(inject(replay_history(real_noise, rng), kind="pulse", at=at,
                          ratio=1.20, length=15),
                   kind="step", at=at + 27, ratio=1.20)
        found = [s.index for s in detect_change_points(v)]
        hit = [any(abs(k - x) <= 2 for k in found) for x in (at, at + 15, at + 27)]
        again += hit[2]
        three += all(hit)
    assert again / trials >= 0.50
    assert three / trials >= 0.45
