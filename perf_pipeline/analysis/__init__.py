"""Statistics: comparisons, run-level baseline test, multiple-testing control, simulation.

Pure functions over values: no I/O, no logging, no Dagster, no store. Randomness only from
an ``rng: numpy.random.Generator`` argument.
"""

from perf_pipeline.analysis.ab_left_out import LeftOut, require_a_target, usable_rounds
from perf_pipeline.analysis.baseline import (
    ASSUMED_RUN_CV,
    SUITE_SHIFT_NAME,
    build_baseline,
    compare_to_baseline,
)
from perf_pipeline.analysis.bisect import classify_value, plan_bisect
from perf_pipeline.analysis.changepoints import (
    change_points_of,
    detect_change_points,
    drift_ratio,
    hodges_lehmann,
)
from perf_pipeline.analysis.compare import compare
from perf_pipeline.analysis.confirmation import (
    AB_PROCESSES,
    CONFIRM_MAX_ROUNDS,
    SCREEN_ALPHA,
    SCREEN_CORRECTION,
    ConfirmationPlan,
    choose_controls,
    confirm_flagged,
    flagged_for_confirmation,
    plan_confirmation,
    round_value,
    screen_ratios,
    screen_run,
    screen_weights,
    suspects_for_confirmation,
)
from perf_pipeline.analysis.detectable import (
    DETECTABLE_POWER,
    Detectability,
    DetectableChange,
    detectable_changes,
)
from perf_pipeline.analysis.drift import detect_drifts, drifts_of, unexplained_drifts
from perf_pipeline.analysis.flame import build_flame
from perf_pipeline.analysis.multiple import (
    CORRECTIONS,
    adjust_p_values,
    bh_adjust,
    compare_suite,
    holm_adjust,
)
from perf_pipeline.analysis.noise import SpreadChange, noise_profile, spread_change
from perf_pipeline.analysis.profile_diff import diff_memory, diff_profiles, fold_libraries
from perf_pipeline.analysis.replay import (
    ABRates,
    GateRates,
    NoiseRecording,
    recording_prior,
    replay_ab_rounds,
    replay_adaptive_ab,
    replay_fixed_ab,
    replay_gate,
    replay_screen_runs,
    two_stage_trial,
    widen,
)
from perf_pipeline.analysis.rounds import compare_rounds
from perf_pipeline.analysis.run_factors import factor_free_series, run_factors
from perf_pipeline.analysis.runlevel import (
    MIN_BENCHMARKS_FOR_SHIFT,
    RunLevelResult,
    run_level_test,
)
from perf_pipeline.analysis.sequential import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_MIN_ROUNDS,
    MAX_ROUNDS,
    MIN_CONTROLS_FOR_FACTOR,
    level_plan,
    look_levels,
    sequential_ab,
    sign_flip_looks,
)
from perf_pipeline.analysis.sequential_result import SequentialResult
from perf_pipeline.analysis.simulation import NoiseModel, simulate_recording, simulate_suites
from perf_pipeline.analysis.variance_prior import (
    MIN_PRIOR_ROUNDS,
    PRIOR_DF,
    VariancePrior,
    variance_prior,
)

__all__ = [
    "AB_PROCESSES",
    "ASSUMED_RUN_CV",
    "CONFIRM_MAX_ROUNDS",
    "CORRECTIONS",
    "DEFAULT_MAX_ROUNDS",
    "DEFAULT_MIN_ROUNDS",
    "DETECTABLE_POWER",
    "MAX_ROUNDS",
    "MIN_BENCHMARKS_FOR_SHIFT",
    "MIN_CONTROLS_FOR_FACTOR",
    "MIN_PRIOR_ROUNDS",
    "PRIOR_DF",
    "SCREEN_ALPHA",
    "SCREEN_CORRECTION",
    "SUITE_SHIFT_NAME",
    "ABRates",
    "ConfirmationPlan",
    "Detectability",
    "DetectableChange",
    "GateRates",
    "LeftOut",
    "NoiseModel",
    "NoiseRecording",
    "RunLevelResult",
    "SequentialResult",
    "SpreadChange",
    "VariancePrior",
    "adjust_p_values",
    "bh_adjust",
    "build_baseline",
    "build_flame",
    "change_points_of",
    "choose_controls",
    "classify_value",
    "compare",
    "compare_rounds",
    "compare_suite",
    "compare_to_baseline",
    "confirm_flagged",
    "detect_change_points",
    "detect_drifts",
    "detectable_changes",
    "diff_memory",
    "diff_profiles",
    "drift_ratio",
    "drifts_of",
    "factor_free_series",
    "flagged_for_confirmation",
    "fold_libraries",
    "hodges_lehmann",
    "holm_adjust",
    "level_plan",
    "look_levels",
    "noise_profile",
    "plan_bisect",
    "plan_confirmation",
    "recording_prior",
    "replay_ab_rounds",
    "replay_adaptive_ab",
    "replay_fixed_ab",
    "replay_gate",
    "replay_screen_runs",
    "require_a_target",
    "round_value",
    "run_factors",
    "run_level_test",
    "screen_ratios",
    "screen_run",
    "screen_weights",
    "sequential_ab",
    "sign_flip_looks",
    "simulate_recording",
    "simulate_suites",
    "spread_change",
    "suspects_for_confirmation",
    "two_stage_trial",
    "unexplained_drifts",
    "usable_rounds",
    "variance_prior",
    "widen",
]
