"""Replay recorded real noise through the product's own judging code.

A rule is only as good as its false-alarm rate and power on the noise of the machines it
runs on, and a synthetic model is kinder than a shared VM (heavy tails, bimodal kernels,
slow drifts, a factor per process). So the studies and the statistics tests replay a
*recording*: fresh pytest processes of one commit, measured as interleaved pairs of two
worktrees (``perf-pipeline calibrate``), each process its own unit of noise. Changes of
known size are injected by scaling the samples of one benchmark on one side.

* **Screen trials** (stored baseline): consecutive processes are grouped into runs of
  ``processes_per_run`` (their samples pooled, as ``merge_processes`` does), the baseline
  is ``baseline_runs`` consecutive runs from a random start and the current run is the
  next one: the time order of the recording, drift included, is kept.
* **A/B rounds**: ``processes`` consecutive recorded pairs make one round (each side's
  value is ``round_value`` of its processes' samples together, as the product measures a
  side of a round in ``ab_processes`` processes; base side drawn at random per round);
  rounds are taken in recorded order from a random start.
* **Wider suites**: a recording of a few benchmarks stands in for a suite of ``n`` by
  keeping each process's real suite-wide factor and giving every further column the real
  residual of one of the recorded benchmarks in another, randomly drawn process (its
  samples rescaled by the two processes' factors). Columns stay real in their
  distribution (tails, modes) but their residuals are independent across copies.

Every trial is judged by ``build_baseline``/``compare_to_baseline``, ``choose_controls``
and ``sequential_ab`` (``compare_rounds`` for the fixed-round A/B): the functions the
product calls, never a copy.

This module names the studies' whole interface; the parts live beside it:
``noise_recording`` (the recording, ``widen``, its variance prior), ``replay_inputs``
(screen runs and A/B rounds from it), ``replay_gate`` (the two-stage gate) and
``replay_ab`` (the A/B alone).
"""

from __future__ import annotations

from perf_pipeline.analysis.noise_recording import NoiseRecording, recording_prior, widen
from perf_pipeline.analysis.replay_ab import (
    SLOW_HIT_ROUNDS,
    ABRates,
    replay_adaptive_ab,
    replay_fixed_ab,
)
from perf_pipeline.analysis.replay_gate import (
    GateRates,
    TwoStageTrial,
    replay_gate,
    two_stage_trial,
)
from perf_pipeline.analysis.replay_inputs import replay_ab_rounds, replay_screen_runs

__all__ = [
    "SLOW_HIT_ROUNDS",
    "ABRates",
    "GateRates",
    "NoiseRecording",
    "TwoStageTrial",
    "recording_prior",
    "replay_ab_rounds",
    "replay_adaptive_ab",
    "replay_fixed_ab",
    "replay_gate",
    "replay_screen_runs",
    "two_stage_trial",
    "widen",
]
