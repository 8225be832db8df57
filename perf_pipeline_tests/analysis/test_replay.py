"""The gate on recorded REAL noise: false alarms, power and cost, replayed.

The corpora in ``benchmarks/data/noise/`` hold fresh pytest processes of the example suite
on a shared 2-core VM, recorded as interleaved pairs of two worktrees of one commit
(``perf-pipeline calibrate``). The settings were chosen on the first (``pinned``: the
measuring process had one core to itself); the second (``unpinned``: processes free on
both cores beside other work), recorded afterwards, is held out: nothing was tuned on it.
The third (``noisy-day``), recorded later still on a much noisier morning, is held out too.
Every trial runs the product's own functions (``analysis.replay``). The seeds here are
not the ones the settings were chosen on (``benchmarks/detection.py`` and the tuning runs
used others); the bounds leave margins under the figures the study measured (README,
"How the verdict is decided").
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.analysis import (
    NoiseRecording,
    recording_prior,
    replay_adaptive_ab,
    replay_fixed_ab,
    replay_gate,
    replay_screen_runs,
    widen,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.store import load_noise_corpus

NOISE_DIR = Path(__file__).parents[2] / "benchmarks" / "data" / "noise"


PINNED = NOISE_DIR / "example-suite-pinned.json.gz"
HELD_OUT = NOISE_DIR / "example-suite-unpinned.json.gz"
#: Recorded after everything here was chosen, on a morning when the machine switched
#: between a fast state and one about twice as slow every second or so.
NOISY_DAY = NOISE_DIR / "example-suite-noisy-day.json.gz"


@cache
def _recording(path: Path) -> NoiseRecording:
    return NoiseRecording.from_corpus(load_noise_corpus(path))


def _real() -> NoiseRecording:
    """The recording the settings were chosen on."""
    return _recording(PINNED)


@pytest.mark.parametrize("path", [PINNED, HELD_OUT, NOISY_DAY],
                         ids=["pinned", "held-out", "noisy-day"])
def test_the_corpus_is_real_and_large_enough(path: Path) -> None:
    rec = _recording(path)
    assert rec.n_pairs >= 60
    assert len(rec.names) >= 5
    # Real noise is rougher than the synthetic model's 3 %: per-process medians of the
    # same code differ by far more than that on this machine.
    spread = np.std(rec.log_medians(), axis=0, ddof=1)
    assert np.median(spread) > 0.04


def test_replayed_runs_keep_the_recorded_order_and_inject_only_where_asked() -> None:
    rec = _real()
    runs, current = replay_screen_runs(rec, np.random.default_rng(1), slowed={2: 1.5})
    again, same = replay_screen_runs(rec, np.random.default_rng(1))
    assert [r.run_id for r in runs] == [r.run_id for r in again]
    for a, b in zip(current.benchmarks, same.benchmarks, strict=True):
        factor = 1.5 if a.name == rec.names[2] else 1.0
        np.testing.assert_allclose(np.asarray(a.samples_s), np.asarray(b.samples_s) * factor)
    wide = widen(rec, 50, np.random.default_rng(2))
    assert len(wide.names) == 50 and wide.names[: len(rec.names)] == rec.names


def test_a_round_of_several_processes_gives_each_side_its_fastest_sample() -> None:
    from perf_pipeline.analysis import replay_ab_rounds

    rec = _real()
    two = rec.side_values(2)
    assert two.shape == (rec.n_pairs // 2, 2, len(rec.names))
    for r in (0, 7):
        for side in (0, 1):
            for b in range(len(rec.names)):
                # Round r is pairs 2r and 2r + 1; a side is the same side of both.
                fastest = min(float(rec.samples[4 * r + side][b].min()),
                              float(rec.samples[4 * r + 2 + side][b].min()))
                assert two[r, side, b] == fastest
    one = rec.side_values(1)
    np.testing.assert_array_equal(one[:, 0], [[float(s.min()) for s in proc]
                                              for proc in rec.samples[0::2]])
    rounds = replay_ab_rounds(rec, np.random.default_rng(3), processes=2,
                              slowed={1: 1.5})
    first = next(rounds)
    matches = [r for r in range(len(two)) for base in (0, 1)
               if all(first[n] == (two[r, base, i], two[r, 1 - base, i] * (1.5 if i == 1
                                                                            else 1.0))
                      for i, n in enumerate(rec.names))]
    assert len(matches) == 1
    with pytest.raises(InvalidInputError, match="processes"):
        rec.side_values(0)


@pytest.mark.slow
def test_two_processes_per_side_find_what_one_could_not() -> None:
    """The fastest sample of two processes per side (``AB_PROCESSES``) against one, on
    the held-out recording, +5 % at 5 benchmarks (two of them the noisiest): the issue's
    target of 70 % is met only with two. Measured on this seed: 58.0 % with one process
    per side, 74.0 % with two (12.75 against 15.7 rounds per benchmark decided)."""
    rec = _recording(HELD_OUT)
    one, two = (replay_gate(rec, np.random.default_rng(767676), trials=150, effect=1.05,
                            n_benchmarks=5, ab_processes=k) for k in (1, 2))
    assert two.confirmed_hit >= 0.70
    assert two.confirmed_hit >= one.confirmed_hit + 0.10


@pytest.mark.slow
@pytest.mark.parametrize("n_benchmarks", [5, 9, 50])
def test_two_stage_gate_rarely_confirms_unchanged_code(n_benchmarks: int) -> None:
    rates = replay_gate(_real(), np.random.default_rng(424242 + n_benchmarks), trials=300,
                        n_benchmarks=n_benchmarks)
    assert rates.confirmed_any <= 0.01
    # The screen alone at alpha 0.01 (the gate before this design) cries wolf on the
    # same commits: real noise is what the synthetic model did not show.
    assert rates.one_stage_any >= 0.03
    assert rates.confirmed_any < rates.one_stage_any
    # Decided benchmarks leave the rounds: each benchmark decided (flagged or suspect) is
    # measured 8.4-12.0 rounds of two processes per side (median); the whole confirmation
    # lasts 13-14 rounds at 5 and 9 benchmarks, 44 at 50, where the slowest of about 25
    # flags sets the length (measured on these seeds; A/A 0 %, 0.33 % and 0 % here, the
    # screen alone 8.3 %, 11.3 % and 26.7 %).
    assert rates.median_rounds_per_flag <= 15
    assert rates.median_rounds <= (30 if n_benchmarks < 50 else 60)
    assert rates.flagged_any > rates.confirmed_any


@pytest.mark.slow
@pytest.mark.parametrize("n_benchmarks", [5, 50])
def test_the_gate_holds_on_a_recording_nothing_was_tuned_on(n_benchmarks: int) -> None:
    rec = _recording(HELD_OUT)
    aa = replay_gate(rec, np.random.default_rng(737373 + n_benchmarks), trials=300,
                     n_benchmarks=n_benchmarks)
    ten = replay_gate(rec, np.random.default_rng(747474 + n_benchmarks), trials=150,
                      effect=1.10, n_benchmarks=n_benchmarks)
    # Measured on these seeds (5 / 50 benchmarks): A/A 0.33 % / 0.33 %; +10 % 96.7 % /
    # 96.0 %; 8.4 / 11.5 rounds per benchmark decided. The screen alone at alpha 0.01:
    # 9.0 % / 22.7 % of unchanged commits.
    assert aa.confirmed_any <= 0.01
    assert aa.one_stage_any >= 0.03
    assert aa.median_rounds_per_flag <= 15
    assert ten.confirmed_hit >= 0.90


@pytest.mark.slow
def test_adaptive_ab_on_a_recording_nothing_was_tuned_on() -> None:
    rec = _recording(HELD_OUT)
    aa = replay_adaptive_ab(rec, np.random.default_rng(757575), trials=200, n_benchmarks=9)
    double = replay_adaptive_ab(rec, np.random.default_rng(757576), trials=80, effect=2.0,
                                n_benchmarks=9)
    # Measured on these seeds: A/A 0 %; every doubling found, median 5 rounds, at most 7.
    assert aa.any_regression <= 0.01
    assert double.hit == 1.0
    assert double.median_rounds_to_hit <= 6


def _median_factor_free_spread(path: Path) -> float:
    robust, _ = _recording(path).factor_free_spreads(2)
    return float(np.median(robust))


@pytest.mark.slow
def test_a_noisier_day_costs_power_not_false_alarms() -> None:
    """A machine calibrated on a quiet day and measured on a noisy one: the A/B's
    variance prior (from the pinned recording) is too small for the rounds it meets.
    The rounds' own spread must still win, so unchanged code stays unblamed; what
    the noise costs is power, which the README states per recording. Measured on these
    seeds: gate A/A 0.3 % (1 of 300), ``ab --adaptive`` A/A 0.0 %, every doubling found
    (median 5 rounds, at most 10); a robust factor-free spread of 5.5 % per round against
    2.0 % (medians over the benchmarks). A prior worth 200 rounds instead of 4 gives A/A
    8.0 % and 25.7 % on the same seeds."""
    noisy, quiet = _median_factor_free_spread(NOISY_DAY), _median_factor_free_spread(PINNED)
    assert noisy > 1.5 * quiet  # the premise: a much noisier day than the prior's
    rec, stale = _recording(NOISY_DAY), recording_prior(_recording(PINNED))
    gate = replay_gate(rec, np.random.default_rng(838383), trials=300, n_benchmarks=9,
                       prior=stale)
    assert gate.confirmed_any <= 0.01
    aa = replay_adaptive_ab(rec, np.random.default_rng(848484), trials=300, n_benchmarks=9,
                            prior=stale)
    assert aa.any_change <= 0.01
    double = replay_adaptive_ab(rec, np.random.default_rng(858585), trials=100, effect=2.0,
                                n_benchmarks=9, prior=stale)
    assert double.hit == 1.0


@pytest.mark.slow
def test_fixed_round_ab_on_a_recording_nothing_was_tuned_on() -> None:
    """``perf-pipeline ab`` (10 rounds, signed-rank, Holm) on the held-out recording, its
    rounds valued as the product values them (the fastest sample of each side). Measured
    on these seeds: A/A 0 %, +20 % found in 78.0 % (README: 0.5 % and 86.0 % on 200
    trials); with the median of each side, +10 % at 9 benchmarks fell from 81.5 to 51.0 %."""
    rec = _recording(HELD_OUT)
    aa = replay_fixed_ab(rec, np.random.default_rng(818181), trials=50, n_benchmarks=5)
    twenty = replay_fixed_ab(rec, np.random.default_rng(818182), trials=50, effect=1.20,
                             n_benchmarks=5)
    assert aa.any_regression <= 0.02
    assert twenty.hit >= 0.70


@pytest.mark.slow
def test_two_stage_gate_confirms_real_slowdowns() -> None:
    rec = _real()
    ten = replay_gate(rec, np.random.default_rng(424300), trials=150, effect=1.10,
                      n_benchmarks=9)
    five = replay_gate(rec, np.random.default_rng(424302), trials=150, effect=1.05,
                       n_benchmarks=9)
    twenty = replay_gate(rec, np.random.default_rng(424301), trials=150, effect=1.20,
                         n_benchmarks=9)
    # The uncorrected screen flags nearly every real +10 % slowdown (Holm at the same
    # level left 29 % unflagged), so the confirmation decides what is found.
    assert ten.flagged_hit >= 0.90
    # Measured on these seeds: 97.3 % (+10 %), 80.0 % (+5 %), 100 % (+20 %); the
    # targets are 90 % and 70 %, asserted as they stand.
    assert ten.confirmed_hit >= 0.90
    assert five.confirmed_hit >= 0.70
    assert twenty.confirmed_hit >= 0.95
    assert ten.median_rounds_per_flag <= 15
    # The per-benchmark counts are the same trials, split by the benchmark slowed.
    assert sum(n for _, n, _ in five.by_benchmark) == 150
    assert sum(hit for _, _, hit in five.by_benchmark) == round(five.confirmed_hit * 150)
    assert {name for name, _, _ in five.by_benchmark} <= set(rec.names)


@pytest.mark.slow
def test_two_stage_gate_on_a_suite_with_the_two_noisiest_benchmarks() -> None:
    """The first five recorded benchmarks include the two whose rounds spread 10-12 %
    (factor-free): a +10 % change there needs 30-100 rounds, and the futility rule
    projects the screen's estimate so that it gets them; the screen flags only 90.0 % of
    them here, the suspects (``suspects_for_confirmation``) bring the rest. Measured
    97.3 % on this seed."""
    ten = replay_gate(_real(), np.random.default_rng(424303), trials=150, effect=1.10,
                      n_benchmarks=5)
    assert ten.confirmed_hit >= 0.90
    assert ten.confirmed_hit > ten.flagged_hit  # suspects found what the screen missed


def test_the_screen_flags_everything_holm_would_and_more() -> None:
    from perf_pipeline.analysis import (
        build_baseline,
        compare_to_baseline,
        flagged_for_confirmation,
        screen_run,
    )

    rec = _real()
    rng = np.random.default_rng(424500)
    more = 0
    for _ in range(20):
        runs, current = replay_screen_runs(rec, rng, slowed={1: 1.1})
        baseline = build_baseline(runs, created_at="2000-01-01T00:00:00+00:00")
        loose = set(flagged_for_confirmation(screen_run(baseline, current, threshold=1.0)))
        holm = set(flagged_for_confirmation(compare_to_baseline(
            baseline, current, threshold=1.0, alpha=0.5, correction="holm")))
        assert holm <= loose
        more += len(loose) > len(holm)
    assert more > 0


@pytest.mark.slow
def test_adaptive_ab_on_real_paired_noise() -> None:
    rec = _real()
    aa = replay_adaptive_ab(rec, np.random.default_rng(424400), trials=200, n_benchmarks=9)
    double = replay_adaptive_ab(rec, np.random.default_rng(424401), trials=80, effect=2.0,
                                n_benchmarks=9)
    ten = replay_adaptive_ab(rec, np.random.default_rng(424402), trials=80, effect=1.10,
                             n_benchmarks=9)
    assert aa.any_regression <= 0.01  # the target; measured 0.0 % on this seed
    assert double.hit >= 0.98
    assert double.median_rounds_to_hit <= 6  # measured 5, at most 9
    assert ten.hit >= 0.75  # measured 88.8 % (68.8 % with one process per side)


@pytest.mark.slow
@pytest.mark.parametrize("judged, prior_from, seeds", [
    (HELD_OUT, PINNED, (606060, 626262, 646464)),
    (PINNED, HELD_OUT, (616161, 636363, 656565)),
], ids=["held-out judged", "pinned judged"])
def test_a_prior_from_another_recording_decides_every_doubling_within_six_rounds(
        judged: Path, prior_from: Path, seeds: tuple[int, int, int]) -> None:
    """The machine's recorded spread per round (``analysis.variance_prior``), taken from
    the other recording (made under other load, so it never saw the noise it judges).
    Without it, 17-22 of 300 doublings took 7-8 rounds. Measured on these seeds: every
    doubling decided at round 5; no A/A alarm, nor with a stale prior half the true
    spread (a quarter of the variance: a profile of a quieter day)."""
    rec, prior = _recording(judged), recording_prior(_recording(prior_from))
    double = replay_adaptive_ab(rec, np.random.default_rng(seeds[0]), trials=200,
                                effect=2.0, n_benchmarks=9, prior=prior)
    assert double.hit == 1.0 and double.max_rounds_to_hit <= 6
    aa = replay_adaptive_ab(rec, np.random.default_rng(seeds[1]), trials=300,
                            n_benchmarks=9, prior=prior)
    assert aa.any_change <= 0.01  # improvements are false alarms of a two-sided A/B too
    stale = replace(prior, log_ratios=prior.log_ratios * 0.5)
    aa_stale = replay_adaptive_ab(rec, np.random.default_rng(seeds[2]), trials=300,
                                  n_benchmarks=9, prior=stale)
    assert aa_stale.any_change <= 0.01


def _quiet_benchmarks(rec: NoiseRecording, most: float) -> set[str]:
    """The benchmarks whose robust spread per round (two processes per side, the round's
    suite factor removed) is at most ``most``."""
    robust, _ = rec.factor_free_spreads(2)
    return {name for name, s in zip(rec.names, robust, strict=True) if s <= most}


@pytest.mark.slow
@pytest.mark.parametrize("judged, prior_from, seed", [
    (HELD_OUT, PINNED, 676767),
    (PINNED, HELD_OUT, 686868),
], ids=["held-out judged", "pinned judged"])
def test_a_calibrated_ab_finds_five_percent_on_every_quiet_benchmark(
        judged: Path, prior_from: Path, seed: int) -> None:
    """The +5 % target (found in 90 % within 20 rounds) is a property of each benchmark's
    noise: on seed 1 the benchmarks with a spread per round of 2.5 % or less were found
    in 91.5 % (pinned) and 96.4 % (held out), the noisier ones (3.5-14 %) in 0-52 %
    (README, ``detection.py``). Measured on these seeds: 93.0 % (held out) and 85.7 %
    (pinned); the whole suite of 9, 66 % and 60 %."""
    rec = _recording(judged)
    quiet = _quiet_benchmarks(rec, 0.025)
    assert len(quiet) >= 5
    five = replay_adaptive_ab(rec, np.random.default_rng(seed), trials=240, effect=1.05,
                              n_benchmarks=9, prior=recording_prior(_recording(prior_from)))
    slowed = sum(n for name, n, _ in five.by_benchmark if name in quiet)
    found = sum(hit for name, _, hit in five.by_benchmark if name in quiet)
    assert slowed >= 100
    assert found / slowed >= 0.78


def test_ab_rates_count_widened_columns_for_the_benchmark_they_were_drawn_from() -> None:
    from perf_pipeline.analysis import NoiseModel, simulate_recording

    rec = simulate_recording(np.random.default_rng(7), n_pairs=40,
                             model=NoiseModel(n_benchmarks=3))
    rates = replay_adaptive_ab(rec, np.random.default_rng(8), trials=8, effect=2.0,
                               n_benchmarks=7)
    assert {name for name, _, _ in rates.by_benchmark} <= set(rec.names)
    assert sum(n for _, n, _ in rates.by_benchmark) == 8
    assert sum(hit for _, _, hit in rates.by_benchmark) == round(rates.hit * 8)


@pytest.mark.slow
def test_the_gate_with_a_prior_still_rarely_confirms_unchanged_code() -> None:
    """The confirmation's factor is the median of a few controls: the prior's spread is
    taken the same way (``VariancePrior.log_variance``). Measured: no alarm in 200 commits
    of 5 benchmarks on this seed; 3 in 800 at 50 benchmarks over three other seeds
    (README)."""
    gate = replay_gate(_recording(HELD_OUT), np.random.default_rng(666666), trials=200,
                       n_benchmarks=5, prior=recording_prior(_recording(PINNED)))
    assert gate.confirmed_any <= 0.01


@pytest.mark.slow
def test_the_sign_flip_test_spends_its_level_where_it_can_use_it() -> None:
    """Spread over every look, the sign-flip test's level was too thin for it ever to
    reject at 20 rounds on a suite of 5; spent at a few late looks (``sign_flip_looks``)
    it finds +10 % far more often. Measured on this seed with one process per side:
    55.0 %, and 36.7 % with the level spread over every look (the design before); with
    two processes per side, 80.8 %."""
    ten = replay_adaptive_ab(_real(), np.random.default_rng(424404), trials=120,
                             effect=1.10, n_benchmarks=5)
    assert ten.hit >= 0.65


def test_gate_rates_count_widened_columns_for_the_benchmark_they_were_drawn_from() -> None:
    from perf_pipeline.analysis import NoiseModel, simulate_recording

    rec = simulate_recording(np.random.default_rng(7), n_pairs=40,
                             model=NoiseModel(n_benchmarks=3))
    rates = replay_gate(rec, np.random.default_rng(8), trials=8, effect=1.5, n_benchmarks=7)
    assert rates.n_benchmarks == 7
    assert {name for name, _, _ in rates.by_benchmark} <= set(rec.names)
    assert sum(n for _, n, _ in rates.by_benchmark) == 8
    assert sum(hit for _, _, hit in rates.by_benchmark) == round(rates.confirmed_hit * 8)
